#!/usr/bin/env python3
"""Regenerates reference.json: outputs of the libraries the original
corruption scripts call, on small inputs defined by formulas that
reference_test.go rebuilds exactly.

Versions used for the committed file (Debian 12 packages):
  numpy 1.24.2, scipy 1.10.1, scikit-image 0.19.3, opencv 4.6.0, Pillow 9.4.0,
  ImageMagick 6.9.11-60 Q16 (`convert -motion-blur`, as Wand's MagickMotionBlurImage).
Run: python3 reference.py > reference.json
The code below restates the steps of hendrycks/robustness make_cifar_c.py and
google-research/mnist-c corruptions.py for fixed random draws.
"""
import io, json, subprocess, warnings
import numpy as np, cv2, scipy, skimage
from PIL import Image
from scipy.ndimage import zoom as scizoom, map_coordinates
from skimage.filters import gaussian
from skimage import transform, feature, color

warnings.simplefilter("ignore")
out = {"_versions": {"numpy": np.__version__, "scipy": scipy.__version__, "skimage": skimage.__version__,
                     "cv2": cv2.__version__}}

def put(name, a):
    a = np.asarray(a)
    out[name] = {"shape": list(a.shape), "data": [float(v) for v in a.astype(np.float64).ravel()]}

# ---- inputs (mirrored in reference_test.go) ----
A = np.array([[((y * 7 + x * 3) % 11) / 10 for x in range(9)] for y in range(7)], dtype=np.float32)
def ring(n=28):
    v = np.zeros((n, n))
    for y in range(n):
        for x in range(n):
            v[y, x] = min(max(2.5 - abs(np.hypot(x - 13.5, y - 12.0) - 7.0), 0.0), 1.0)
            if 12 <= x <= 15 and 18 <= y <= 25:
                v[y, x] = 1.0
    return (np.round(v * 255) / 255).astype(np.float32)
R28 = ring()
RGB6 = np.zeros((6, 6, 3), np.float32)
for y in range(6):
    for x in range(6):
        RGB6[y, x] = [((x * 5 + y * 3) % 7) / 6, ((x * 2 + y * 5) % 5) / 4, ((x + y * 4) % 6) / 5]
RGB6[5, 5] = [0.5, 0.5, 0.5]
LIQ = np.zeros((20, 24), np.uint8)
for y in range(20):
    for x in range(24):
        if (x - 7) ** 2 + (y - 8) ** 2 < 16 or (x - 17) ** 2 / 4 + (y - 13) ** 2 < 9:
            LIQ[y, x] = 170 + (x * 3 + y * 5) % 20
U8 = np.array([[(x * 37 + y * 91 + (x * y) % 13 * 11) % 256 for x in range(16)] for y in range(12)], np.uint8)

# ---- skimage gaussian (mode nearest, truncate 4) and elastic's (reflect, truncate 3) ----
for s in (0.4, 1.0, 2.5):
    put("gauss_nearest_%g" % s, gaussian(A.astype(np.float64), sigma=s, mode="nearest", truncate=4.0))
put("gauss_reflect_1.28_t3", gaussian(A.astype(np.float64), sigma=1.28, mode="reflect", truncate=3))

# ---- defocus disk kernels (make_cifar_c.disk) and filter2D ----
def disk(radius, alias_blur=0.1, dtype=np.float32):
    if radius <= 8:
        L = np.arange(-8, 8 + 1); ksize = (3, 3)
    else:
        L = np.arange(-radius, radius + 1); ksize = (5, 5)
    X, Y = np.meshgrid(L, L)
    d = np.array((X ** 2 + Y ** 2) <= radius ** 2, dtype=dtype)
    d /= np.sum(d)
    return cv2.GaussianBlur(d, ksize=ksize, sigmaX=alias_blur)
for i, (r, a) in enumerate([(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)]):
    put("disk_sev%d" % (i + 1), disk(r, a))
put("defocus_sev5_A", cv2.filter2D(A, -1, disk(1.5, 0.1)))

# ---- ImageMagick motion blur on an 8-bit image ----
png = io.BytesIO(); Image.fromarray(U8, mode="L").save(png, format="PNG")
for rad, sig, ang in [(6, 1, 17.3), (9, 2.5, -40.0), (14, 12, -100.7)]:
    res = subprocess.run(["/usr/bin/convert", "png:-", "-motion-blur", "%gx%g%+g" % (rad, sig, ang), "png:-"],
                         input=png.getvalue(), capture_output=True, check=True).stdout
    im = np.array(Image.open(io.BytesIO(res)))
    if im.ndim == 3:
        im = im[..., 0]
    put("motion_%g_%g_%g" % (rad, sig, ang), im)

# ---- zoom_blur severity 3 (clipped_zoom with scipy zoom order 1) ----
def clipped_zoom(img, zoom_factor):
    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = scizoom(img[top:top + ch, top:top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim_top = (img.shape[0] - h) // 2
    return img[trim_top:trim_top + h, trim_top:trim_top + h]
Z = R28[..., None]
acc = np.zeros_like(Z)
zs = np.arange(1, 1.16, 0.01)
for z in zs:
    acc += clipped_zoom(Z, z)
put("zoom_blur_sev3_R28", ((Z + acc) / (len(zs) + 1))[..., 0])

# ---- pixelate: PIL BOX down and up, float ('F') images so no 8-bit rounding ----
for c in (0.95, 0.65):
    for n in (28, 32):
        im = Image.fromarray(np.resize(R28, (n, n)).astype(np.float32), mode="F")
        im = im.resize((int(n * c), int(n * c)), Image.BOX).resize((n, n), Image.BOX)
        put("pixelate_%g_%d" % (c, n), np.array(im))

# ---- brightness and saturate (skimage HSV) ----
for i, c in enumerate([.05, .1, .15, .2, .3]):
    x = color.rgb2hsv(RGB6.astype(np.float64)); x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    put("brightness_sev%d" % (i + 1), np.clip(color.hsv2rgb(x), 0, 1).transpose(2, 0, 1))
for i, c in enumerate([(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)]):
    x = color.rgb2hsv(RGB6.astype(np.float64)); x[:, :, 1] = np.clip(x[:, :, 1] * c[0] + c[1], 0, 1)
    put("saturate_sev%d" % (i + 1), np.clip(color.hsv2rgb(x), 0, 1).transpose(2, 0, 1))

# ---- elastic: affine (cv2) and displacement sampling (scipy) with fixed draws ----
pts1 = np.float32([[26, 26], [26, 6], [6, 6]])  # 32x32: centre 16, square 10
jit = np.float32([[1.5, -0.75], [-2.25, 0.5], [0.25, 2.0]])
M = cv2.getAffineTransform(pts1, pts1 + jit)
put("elastic_M", M)
IMG32 = np.resize(R28, (32, 32)).astype(np.float32)
put("elastic_warp", cv2.warpAffine(IMG32, M, (32, 32), borderMode=cv2.BORDER_REFLECT_101))
yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
dx = (np.sin(yy * 0.7 + xx * 0.3) * 2.3).astype(np.float32)
dy = (np.cos(yy * 0.2 - xx * 0.5) * 1.7).astype(np.float32)
put("elastic_sample", map_coordinates(IMG32, (np.reshape(yy + dy, (-1,)), np.reshape(xx + dx, (-1,))),
                                      order=1, mode="reflect").reshape(32, 32))

# ---- skimage canny (MNIST-C canny_edges) ----
put("canny_R28", feature.canny(R28.astype(np.float64)).astype(np.float64))

# ---- spatter water branch (make_cifar_c.spatter, mode 0) on a fixed liquid layer ----
edges = cv2.Canny(LIQ, 50, 150)
put("cv_canny_LIQ", edges)
dist = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 5)
put("cv_dist_LIQ", dist)
_, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
dist = cv2.equalizeHist(dist)
put("cv_eqhist_LIQ", dist)
ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
dist = cv2.filter2D(dist, cv2.CV_8U, ker)
dist = cv2.blur(dist, (3, 3)).astype(np.float32)
m = LIQ * dist
put("spatter_water_m_LIQ", m / np.max(m))
put("cv_canny_U8", cv2.Canny(U8, 50, 150))
put("cv_eqhist_U8", cv2.equalizeHist(U8))

# ---- MNIST-C affine warps (skimage warp, inverse_map) with fixed signs ----
def centred_warp(x, **kw):
    aff = transform.AffineTransform(**kw)
    a1, a2 = aff.params[0, :2]; b1, b2 = aff.params[1, :2]
    aff = transform.AffineTransform(translation=[13.5 * (1 - a1 - a2), 13.5 * (1 - b1 - b2)], **kw)
    return np.clip(transform.warp(x, inverse_map=aff), 0, 1)
X = R28.astype(np.float64)
put("shear_+0.4_R28", centred_warp(X, shear=0.4))
put("rotate_-0.4_R28", centred_warp(X, rotation=-0.4))
put("scale_sev3_R28", centred_warp(X, scale=(1 / .7, 1 / .7)))
put("translate_+3_-3_R28", np.clip(transform.warp(X, inverse_map=transform.AffineTransform(translation=[3, -3])), 0, 1))

# ---- MNIST-C line overlays with fixed draws ----
def line_from_points(c0, r0, c1, r1):
    if c1 == c0:
        return np.zeros((28, 28))
    cc, rr = np.meshgrid(np.linspace(0, 27, 28), np.linspace(0, 27, 28), sparse=True)
    m = (r1 - r0) / (c1 - c0)
    f = lambda c: m * (c - c0) + r0
    dist = np.clip(np.abs(rr - f(cc)), 0, 2.3 - 1e-10)
    corruption = np.clip(np.log(1 - dist / 2.3) + 1, 0, 1)
    l = int(np.floor(c0)); r = int(np.ceil(c1))
    corruption[:, :l] = 0; corruption[:, r:] = 0
    return np.clip(corruption, 0, 1)
cor = line_from_points(0, 5, 27, 20)
idx = np.arange(0, 30, 2); off = True
for i in range(1, len(idx)):
    if off:
        cor[:, idx[i - 1]:idx[i]] = 0
    off = not off
put("dotted_5_20_R28", np.clip(X + cor, 0, 1))
def zigzag(x, r0, r1):
    a = 2.; b = 2.; c0, c1 = 2, 25
    theta = np.arctan((r1 - r0) / (c1 - c0)); d = (c1 - c0) / np.cos(theta)
    endpoints = [(0, 0)]
    for i in range(int((d - a) // (2 * a)) + 1):
        endpoints.append(((2 * i + 1) * a, (-1) ** i * b)); r_i = (-1) ** i * b
    max_c = (2 * a) * (d // (2 * a))
    if d != max_c:
        endpoints.append((d, r_i / (2 * (d - max_c))))
    endpoints = np.array(endpoints).T
    Mr = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cs, rs = Mr.dot(endpoints); cs += c0; rs += r0
    x = x.copy()
    for i in range(1, endpoints.shape[1]):
        x += line_from_points(cs[i - 1], rs[i - 1], cs[i], rs[i]); x = np.clip(x, 0, 1)
    return x
put("zigzag_10_13_R28", zigzag(X, 10, 13))
put("zigzag_20_15_R28", zigzag(X, 20, 15))

json.dump(out, open(1, "w"), separators=(",", ":"))
