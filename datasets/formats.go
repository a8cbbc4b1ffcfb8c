package datasets

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"os"
)

// Helpers shared by the CIFAR, MAT, NPY and image readers. They follow the IDX
// reader's conventions (idx.go): one-line *FileError values whose Kind is
// ErrFormat or ErrUnsupported, truncation reported as io.ErrUnexpectedEOF, and
// allocations that grow with the bytes actually read.

// invalid returns an ErrFormat *FileError for file name in the given format.
func invalid(format, name string, cause error, msg string, args ...any) error {
	return &FileError{File: name, Format: format, Kind: ErrFormat, Msg: fmt.Sprintf(msg, args...), Err: cause}
}

// unsupported returns an ErrUnsupported *FileError.
func unsupported(format, name string, msg string, args ...any) error {
	return &FileError{File: name, Format: format, Kind: ErrUnsupported, Msg: fmt.Sprintf(msg, args...)}
}

// truncated returns an ErrFormat error wrapping io.ErrUnexpectedEOF.
func truncated(format, name string, msg string, args ...any) error {
	return invalid(format, name, io.ErrUnexpectedEOF, msg, args...)
}

// readFailed turns an error met while reading part of a file into a one-line
// error: end of input is a truncation, a corrupt compressed stream an ErrFormat
// error, anything else an I/O error naming the file.
func readFailed(format, name string, err error, part string) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return truncated(format, name, "%s truncated", part)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum),
		errors.Is(err, zlib.ErrHeader), errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrDictionary),
		errors.As(err, &corrupt):
		return invalid(format, name, err, "corrupt compressed stream in %s", part)
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("datasets: %s: reading %s: %w", name, part, err)
}

// openSized opens path and returns its size if it is a regular file (else -1).
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("datasets: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

// growTo returns s with capacity for at least need more elements, growing it
// by doubling (never beyond limit elements in total) so that memory follows
// the data that have actually arrived rather than what a header claims.
func growTo[T any](s []T, need, limit int) []T {
	if cap(s)-len(s) >= need {
		return s
	}
	c := min(max(2*cap(s), len(s)+need), max(limit, len(s)+need))
	g := make([]T, len(s), c)
	copy(g, s)
	return g
}

// isRegularFile reports whether p names an existing regular file.
func isRegularFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readGrowing reads exactly n bytes from r into a buffer that starts at
// min(n, readChunk) bytes and doubles as data arrive, so that a header that
// claims more than the input holds costs at most twice what is really there.
// A short input returns the bytes read and io.ErrUnexpectedEOF.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	data := make([]byte, 0, min(n, readChunk))
	for len(data) < n {
		if len(data) == cap(data) {
			data = growTo(data, min(n-len(data), cap(data)), n)
		}
		k, err := io.ReadFull(r, data[len(data):cap(data)])
		data = data[:len(data)+k]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return data, io.ErrUnexpectedEOF
		}
		if err != nil {
			return data, err
		}
	}
	return data, nil
}
