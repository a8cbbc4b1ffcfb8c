package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Limits on what an image file may claim before it is decoded. An image of
// w×h pixels needs at least w·h/8 bytes of uncompressed data (1-bit PNG), and
// deflate expands a byte at most 1032-fold, so a file of n bytes cannot hold
// more than 8·1032·n pixels; the bound also covers GIF (LZW) and JPEG, whose
// best cases need more bytes per pixel.
const (
	MaxImagePixels   = 1 << 26 // 8192×8192
	maxPixelsPerByte = 8 * maxDeflateRatio
)

// Image file extensions: decoded ones, and common ones this package does not
// decode (so that a folder of them fails loudly instead of looking empty).
var (
	imageExts      = []string{".png", ".jpg", ".jpeg", ".gif"}
	otherImageExts = []string{".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
)

// rgbImage is a decoded image as three byte planes.
type rgbImage struct {
	h, w   int
	pix    []uint8 // 3·h·w: R plane, G plane, B plane, each row-major
	colour bool    // some pixel has R ≠ G or G ≠ B
}

// decodeImage decodes a PNG, JPEG or GIF file held in data (the first frame
// of a GIF) into 8-bit RGB planes; see ReadImage for the conversions.
func decodeImage(data []byte, name string) (*rgbImage, error) {
	// Pick the decoder by magic number rather than through image.Decode, so
	// that formats other packages of the binary register are not accepted.
	var (
		format       string
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format, decodeConfig, decode = "PNG", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, []byte{0xff, 0xd8}):
		format, decodeConfig, decode = "JPEG", jpeg.DecodeConfig, jpeg.Decode
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		format, decodeConfig, decode = "GIF", gif.DecodeConfig, gif.Decode
	case len(data) == 0:
		return nil, truncated("image", name, "empty file")
	default:
		return nil, invalid("image", name, nil, "not a PNG, JPEG or GIF file (starts with % x)", data[:min(len(data), 8)])
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, imageErr(name, err, format+" header")
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		return nil, invalid("image", name, nil, "%s of %d×%d pixels", format, w, h)
	}
	if int64(w)*int64(h) > MaxImagePixels {
		return nil, unsupported("image", name, "%s of %d×%d pixels (want at most %d pixels)", format, w, h, MaxImagePixels)
	}
	if int64(w)*int64(h) > maxPixelsPerByte*int64(len(data)) {
		return nil, truncated("image", name, "%s header claims %d×%d pixels, more than %d bytes can hold", format, w, h, len(data))
	}
	m, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, imageErr(name, err, format+" data")
	}
	b := m.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return nil, invalid("image", name, nil, "%s decodes to %d×%d pixels, its header says %d×%d", format, b.Dx(), b.Dy(), w, h)
	}
	return toRGB(m), nil
}

// imageErr classifies a decoder error.
func imageErr(name string, err error, part string) error {
	var pngU png.UnsupportedError
	var jpgU jpeg.UnsupportedError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		strings.HasSuffix(err.Error(), "unexpected EOF"): // png wraps truncation in a FormatError
		return truncated("image", name, "%s truncated", part)
	case errors.As(err, &pngU), errors.As(err, &jpgU):
		return &FileError{File: name, Format: "image", Kind: ErrUnsupported, Msg: part, Err: err}
	}
	return invalid("image", name, err, "%s", part)
}

// toRGB converts any image to rgbImage, with fast paths for the types the
// standard decoders return.
func toRGB(m image.Image) *rgbImage {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	im := &rgbImage{h: h, w: w, pix: make([]uint8, 3*w*h)}
	R, G, B := im.pix[:w*h], im.pix[w*h:2*w*h], im.pix[2*w*h:]
	set := func(i int, r, g, bl uint8) {
		R[i], G[i], B[i] = r, g, bl
		if r != g || g != bl {
			im.colour = true
		}
	}
	switch m := m.(type) {
	case *image.Gray:
		for y := range h {
			copy(R[y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
		copy(G, R)
		copy(B, R)
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)], m.Cb[m.COffset(b.Min.X+x, b.Min.Y+y)], m.Cr[m.COffset(b.Min.X+x, b.Min.Y+y)])
				set(y*w+x, r, g, bl)
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				set(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.Paletted:
		pal := make([]color.NRGBA, len(m.Palette))
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				var c color.NRGBA
				if int(row[x]) < len(pal) {
					c = pal[row[x]]
				}
				set(y*w+x, c.R, c.G, c.B)
			}
		}
	default: // RGBA (premultiplied), 16-bit, CMYK, ...: the generic conversion
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				set(y*w+x, c.R, c.G, c.B)
			}
		}
	}
	return im
}

// set returns the image as a one-image set with c channels: 3 = the RGB
// planes; 1 = the R plane if the image has no colour (exact), else BT.601 luma
// as ToGrey computes it.
func (im *rgbImage) set(name string, c int) *Set {
	s := &Set{Name: name, C: 3, H: im.h, W: im.w, Images: make([]float32, len(im.pix)), Labels: []int{-1}, Index: []int{0}}
	for i, b := range im.pix {
		s.Images[i] = byteScale[b]
	}
	return greyIf(s, c, im.colour)
}

// greyIf brings a 3-channel one-image set to c channels (see rgbImage.set).
func greyIf(s *Set, c int, colour bool) *Set {
	if c != 1 {
		return s
	}
	if colour {
		return ToGrey(s)
	}
	s.C = 1
	s.Images = s.Images[: s.H*s.W : s.H*s.W]
	return s
}

// ReadImage decodes one PNG, JPEG or GIF image (the first frame of a GIF;
// the format is told by its magic bytes) from r into a one-image set with c
// channels: 3, 1, or 0 for "3 if the image has colour (some pixel with R ≠ G
// or G ≠ B), else 1". Pixels are converted to non-premultiplied 8-bit RGB, as
// PIL's Image.convert("RGB") does (alpha dropped, not composited; 16-bit
// samples keep their high byte; JPEG through Go's YCbCr → RGB and IDCT, which
// can differ from libjpeg's by a grey level), then divided by 255. A grey
// result is the R plane of a colourless image, else BT.601 luma (ToGrey).
// Label -1, Index 0. The header is checked before the pixels are allocated:
// at most MaxImagePixels, and no more than the file's size can encode.
func ReadImage(r io.Reader, name string, c int) (*Set, error) {
	if c != 0 && c != 1 && c != 3 {
		panic(fmt.Sprintf("datasets: ReadImage with %d channels (want 0, 1 or 3)", c))
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	im, err := decodeImage(data, name)
	if err != nil {
		return nil, err
	}
	if c == 0 {
		c = 1
		if im.colour {
			c = 3
		}
	}
	return im.set(name, c), nil
}

// FolderOptions say how LoadFolder shapes the images.
type FolderOptions struct {
	// Channels is 1 (grey), 3 (RGB) or 0: 3 if any image has colour, else 1.
	Channels int
	// Height and Width, if not 0, are the size every image is brought to by
	// Fit; if 0, every image must have the first one's size.
	Height, Width int
	// Fit is how an image reaches Height×Width: "resize" (default; Resize,
	// ignoring the aspect ratio), "center-crop" (CenterCrop; images must be at
	// least that large) or "square-resize" (CenterCrop to the largest centred
	// square, then Resize: the usual Resize+CenterCrop of torchvision for a
	// square target).
	Fit string
}

var folderFits = []string{"resize", "center-crop", "square-resize"}

func (o FolderOptions) check() error {
	if o.Channels != 0 && o.Channels != 1 && o.Channels != 3 {
		return fmt.Errorf("datasets: folder: channels = %d (want 1, 3, or 0 for automatic)", o.Channels)
	}
	if o.Height < 0 || o.Width < 0 || (o.Height == 0) != (o.Width == 0) {
		return fmt.Errorf("datasets: folder: height = %d, width = %d (want both positive, or both 0 to keep the images' size)", o.Height, o.Width)
	}
	if o.Fit != "" && !slices.Contains(folderFits, o.Fit) {
		return fmt.Errorf("datasets: folder: fit = %q (want one of %s)", o.Fit, strings.Join(folderFits, ", "))
	}
	return nil
}

// folderFiles lists the images of dir and their labels, in torchvision
// ImageFolder's order. If dir has sub-folders (not starting with "."), each
// is a class, labelled by its index among the sorted folder names, and its
// images are found at any depth, grouped by folder in sorted path order and
// sorted by name within one (symbolic links to folders are not followed);
// image files beside class folders are an error. Otherwise dir's own images
// are the set, labelled -1. Files whose extension is not an image's are
// ignored; .bmp, .tiff, .webp, .ppm, .pgm files are an ErrUnsupported error.
func folderFiles(dir string) (paths []string, labels []int, classes []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("datasets: folder: %w", err)
	}
	var loose []string
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case e.IsDir():
			classes = append(classes, e.Name())
		default:
			ok, err := isImageFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, nil, nil, err
			}
			if ok {
				loose = append(loose, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(classes) == 0 {
		labels = make([]int, len(loose))
		for i := range labels {
			labels[i] = -1
		}
		return loose, labels, nil, nil
	}
	if len(loose) > 0 {
		return nil, nil, nil, fmt.Errorf("datasets: folder: %s has both images (%s) and class folders (%s); put every image in a class folder",
			dir, filepath.Base(loose[0]), classes[0])
	}
	for label, c := range classes { // os.ReadDir sorts by name
		byDir := map[string][]string{}
		err := filepath.WalkDir(filepath.Join(dir, c), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("datasets: folder: %w", err)
			}
			if strings.HasPrefix(d.Name(), ".") && p != filepath.Join(dir, c) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			ok, err := isImageFile(p)
			if ok {
				byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], p)
			}
			return err
		})
		if err != nil {
			return nil, nil, nil, err
		}
		dirs := make([]string, 0, len(byDir))
		for d := range byDir {
			dirs = append(dirs, d)
		}
		slices.Sort(dirs) // as sorted(os.walk(...)) orders them
		for _, d := range dirs {
			slices.Sort(byDir[d])
			for _, p := range byDir[d] {
				paths = append(paths, p)
				labels = append(labels, label)
			}
		}
	}
	return paths, labels, classes, nil
}

// isImageFile tells by the extension whether p is an image to decode; other
// image formats give an error.
func isImageFile(p string) (bool, error) {
	ext := strings.ToLower(filepath.Ext(p))
	if slices.Contains(imageExts, ext) {
		return true, nil
	}
	if slices.Contains(otherImageExts, ext) {
		return false, unsupported("image", p, "%s files are not decoded (want PNG, JPEG or GIF)", ext)
	}
	return false, nil
}

// LoadFolder reads a folder of PNG, JPEG and GIF images (see folderFiles for
// the layout, order and labels) into one set named "folder"; Index is the
// position in that order. Images are decoded as ReadImage does; see
// FolderOptions for their shape. Every error names the file.
func LoadFolder(dir string, opt FolderOptions) (*Set, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	paths, labels, _, err := folderFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("datasets: folder: no PNG, JPEG or GIF images in %s", dir)
	}
	type item struct {
		s      *Set // 3 channels
		colour bool
	}
	items := make([]item, len(paths))
	colour := false
	h, w := opt.Height, opt.Width
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("datasets: folder: %w", err)
		}
		im, err := decodeImage(data, p)
		if err != nil {
			return nil, err
		}
		s := im.set(p, 3)
		switch {
		case h == 0:
			if i > 0 && (im.h != items[0].s.H || im.w != items[0].s.W) {
				return nil, fmt.Errorf("datasets: folder: %s is %d×%d but %s is %d×%d (all images must have one size; set height and width to fit them)",
					p, im.h, im.w, paths[0], items[0].s.H, items[0].s.W)
			}
		case opt.Fit == "center-crop":
			if im.h < h || im.w < w {
				return nil, fmt.Errorf("datasets: folder: %s is %d×%d, smaller than the %d×%d crop (use fit = \"resize\")", p, im.h, im.w, h, w)
			}
			s = CenterCrop(s, h, w)
		case opt.Fit == "square-resize":
			side := min(s.H, s.W)
			s = Resize(CenterCrop(s, side, side), h, w)
		default:
			s = Resize(s, h, w)
		}
		items[i] = item{s, im.colour}
		colour = colour || im.colour
	}
	c := opt.Channels
	if c == 0 {
		c = 1
		if colour {
			c = 3
		}
	}
	first := items[0].s
	out := &Set{Name: "folder", C: c, H: first.H, W: first.W, Images: make([]float32, 0, len(items)*c*first.H*first.W),
		Labels: labels, Index: make([]int, len(items))}
	for i, it := range items {
		out.Images = append(out.Images, greyIf(it.s, c, it.colour).Images...)
		out.Index[i] = i
		items[i].s = nil // let the per-image copy go
	}
	return out, nil
}

// FolderParams is the TOML table of kind "folder".
type FolderParams struct {
	Path     string `toml:"path" json:"path"`         // the folder (required)
	Channels int    `toml:"channels" json:"channels"` // 1 or 3; default: 3 if any image has colour, else 1
	Height   int    `toml:"height" json:"height"`     // with width: bring every image to this size; default: keep
	Width    int    `toml:"width" json:"width"`
	Fit      string `toml:"fit" json:"fit"` // "resize" (default), "center-crop" or "square-resize"
}

type folderSource struct{ p FolderParams }

func (s *folderSource) Kind() string     { return "folder" }
func (s *folderSource) Splits() []string { return []string{} }
func (s *folderSource) Load(req Request) (*Set, error) {
	return LoadFolder(s.p.Path, FolderOptions{Channels: s.p.Channels, Height: s.p.Height, Width: s.p.Width, Fit: s.p.Fit})
}
func (s *folderSource) Where() (string, bool) { return s.p.Path, isDir(s.p.Path) }

func init() {
	Register("folder",
		"A folder of PNG, JPEG or GIF images: flat (labels -1) or one sub-folder per class (labels = index of the sorted folder name, "+
			"files in torchvision ImageFolder order); no splits. Params: path (required), channels (1 or 3; default 3 if any image has colour), "+
			"height and width (bring every image to this size; default: all images must share one size), "+
			"fit (\"resize\" (default), \"center-crop\" or \"square-resize\").",
		func(params Decoder) (Source, error) {
			var p FolderParams
			if err := decodeParams("folder", params, &p); err != nil {
				return nil, err
			}
			if p.Path == "" {
				return nil, fmt.Errorf("datasets: folder: param path is required")
			}
			if err := (FolderOptions{Channels: p.Channels, Height: p.Height, Width: p.Width, Fit: p.Fit}).check(); err != nil {
				return nil, err
			}
			return &folderSource{p}, nil
		})
}
