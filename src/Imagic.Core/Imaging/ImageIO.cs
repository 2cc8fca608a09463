using System.Runtime.InteropServices;
using Imagic.IO;
using SkiaSharp;

namespace Imagic.Imaging;

/// <summary>How <see cref="ImageIO.Fit"/> reconciles a different aspect ratio.</summary>
public enum FitMode
{
    /// <summary>Scale so the shorter side matches, then crop the centre (the whole target is image).</summary>
    CenterCrop,
    /// <summary>Scale so the longer side matches, then pad the rest evenly (the whole image is kept).</summary>
    Pad,
}

/// <summary>Reads, writes and resizes images with SkiaSharp.</summary>
public static class ImageIO
{
    /// <summary>
    /// Loads a PNG, JPEG or WebP file as opaque 8-bit RGB. The EXIF orientation is applied, so the image
    /// comes out the way viewers show it, and transparency is composited on white.
    /// Colour profiles are ignored (values are used as stored, as PIL does for diffusers).
    /// </summary>
    /// <exception cref="ImagicException">The file is missing, unreadable, or not a decodable PNG/JPEG/WebP.</exception>
    public static RgbImage Load(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ImagicException($"{full} is a folder, not an image file.");
        if (!File.Exists(full))
            throw new ImagicException($"Image file not found: {full}");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot read the image {full}: {e.Message}", e);
        }

        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw NotAnImage(full, bytes.Length == 0 ? "the file is empty" : "the data is not in a known image format or is corrupt");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Webp))
            throw NotAnImage(full, $"it is a {codec.EncodedFormat} image; convert it to PNG");

        // Decode straight to RGBA: Skia's native order on Linux is BGRA, which would swap red and blue.
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
            throw NotAnImage(full, result == SKCodecResult.IncompleteInput ? "the file is truncated" : $"decoding failed ({result})");
        return Orient(FromBitmap(bitmap), codec.EncodedOrigin);
    }

    /// <summary>Writes <paramref name="image"/> as a PNG (lossless). The file is replaced atomically.</summary>
    public static void SavePng(RgbImage image, string path)
    {
        using var bitmap = ToBitmap(image);
        AtomicFile.Write(path, stream =>
        {
            if (!bitmap.Encode(stream, SKEncodedImageFormat.Png, 100))
                throw new ImagicException($"Cannot encode a {image.Width}x{image.Height} image as PNG for {path}.");
        });
    }

    /// <summary>
    /// Resizes <paramref name="image"/> to exactly <paramref name="width"/> × <paramref name="height"/>,
    /// keeping its aspect ratio and centre. Resampling is Skia's high quality (bicubic when enlarging,
    /// mipmapped when shrinking). An image that already has the target size is returned as a copy.
    /// </summary>
    /// <param name="image">The image to resize; it is not modified.</param>
    /// <param name="width">Target width in pixels.</param>
    /// <param name="height">Target height in pixels.</param>
    /// <param name="mode">Crop to fill the target, or pad to keep the whole image.</param>
    /// <param name="padColor">Fill for <see cref="FitMode.Pad"/>; default <see cref="Rgb.MidGrey"/> (127, 127, 127),
    /// which is about 0 in the model's [-1, 1] range.</param>
    public static RgbImage Fit(RgbImage image, int width, int height, FitMode mode, Rgb? padColor = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (image.Width == width && image.Height == height)
            return image.Clone();

        double scaleX = (double)width / image.Width, scaleY = (double)height / image.Height;
        double scale = mode == FitMode.CenterCrop ? Math.Max(scaleX, scaleY) : Math.Min(scaleX, scaleY);
        // Whole-pixel placement keeps an unscaled side an exact copy and the pad border clean.
        int scaledW = Math.Max(1, (int)Math.Round(image.Width * scale));
        int scaledH = Math.Max(1, (int)Math.Round(image.Height * scale));
        (scaledW, scaledH) = mode == FitMode.CenterCrop
            ? (Math.Max(scaledW, width), Math.Max(scaledH, height))
            : (Math.Min(scaledW, width), Math.Min(scaledH, height));
        int left = (width - scaledW) / 2, top = (height - scaledH) / 2;

        using var source = ToBitmap(image);
        using var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(target))
        using (var paint = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = false })
        {
            var fill = padColor ?? Rgb.MidGrey;
            canvas.Clear(new SKColor(fill.R, fill.G, fill.B));
            canvas.DrawBitmap(source, new SKRect(left, top, left + scaledW, top + scaledH), paint);
            canvas.Flush();
        }
        return FromBitmap(target);
    }

    /// <summary>Applies an EXIF orientation so the result is upright, as PIL's <c>ImageOps.exif_transpose</c> does.</summary>
    internal static RgbImage Orient(RgbImage src, SKEncodedOrigin origin)
    {
        int w = src.Width, h = src.Height;
        // For each output pixel (x, y), the source pixel it comes from.
        Func<int, int, (int, int)>? from = origin switch
        {
            SKEncodedOrigin.TopRight => (x, y) => (w - 1 - x, y),               // mirrored horizontally
            SKEncodedOrigin.BottomRight => (x, y) => (w - 1 - x, h - 1 - y),    // rotated 180°
            SKEncodedOrigin.BottomLeft => (x, y) => (x, h - 1 - y),             // mirrored vertically
            SKEncodedOrigin.LeftTop => (x, y) => (y, x),                        // transposed
            SKEncodedOrigin.RightTop => (x, y) => (y, h - 1 - x),               // needs 90° clockwise
            SKEncodedOrigin.RightBottom => (x, y) => (w - 1 - y, h - 1 - x),    // transversed
            SKEncodedOrigin.LeftBottom => (x, y) => (w - 1 - y, x),             // needs 90° counter-clockwise
            _ => null,                                                          // TopLeft: already upright
        };
        if (from is null)
            return src;
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
            or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outW = swap ? h : w, outH = swap ? w : h;
        var pixels = new byte[src.Pixels.Length];
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                var (sx, sy) = from(x, y);
                int s = (sy * w + sx) * 3, d = (y * outW + x) * 3;
                pixels[d] = src.Pixels[s];
                pixels[d + 1] = src.Pixels[s + 1];
                pixels[d + 2] = src.Pixels[s + 2];
            }
        }
        return new RgbImage(outW, outH, pixels);
    }

    /// <summary>An opaque RGBA Skia bitmap holding <paramref name="image"/>; the caller disposes it.</summary>
    internal static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var row = new byte[image.Width * 4];
        IntPtr basePtr = bitmap.GetPixels();
        for (int y = 0; y < image.Height; y++)
        {
            int s = y * image.Width * 3;
            for (int x = 0; x < image.Width; x++, s += 3)
            {
                row[4 * x] = image.Pixels[s];
                row[4 * x + 1] = image.Pixels[s + 1];
                row[4 * x + 2] = image.Pixels[s + 2];
                row[4 * x + 3] = 255;
            }
            Marshal.Copy(row, 0, basePtr + y * bitmap.RowBytes, row.Length);
        }
        return bitmap;
    }

    /// <summary>Reads an RGBA bitmap as RGB, compositing any transparency on white.</summary>
    internal static RgbImage FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888)
            throw new ArgumentException($"Expected an Rgba8888 bitmap, got {bitmap.ColorType}.", nameof(bitmap));
        int w = bitmap.Width, h = bitmap.Height, stride = bitmap.RowBytes;
        bool premultiplied = bitmap.AlphaType == SKAlphaType.Premul;
        var span = bitmap.GetPixelSpan();
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int s = y * stride + 4 * x, d = (y * w + x) * 3;
                int a = span[s + 3];
                for (int c = 0; c < 3; c++)
                {
                    int v = span[s + c];
                    // Over white: v·a + 255·(255 − a), divided by 255 with rounding; premultiplied v already holds v·a/255.
                    pixels[d + c] = a == 255 ? (byte)v
                        : premultiplied ? (byte)Math.Min(255, v + 255 - a)
                        : (byte)((v * a + 255 * (255 - a) + 127) / 255);
                }
            }
        }
        return new RgbImage(w, h, pixels);
    }

    static ImagicException NotAnImage(string path, string why) =>
        new($"{path} is not a readable image (PNG, JPEG or WebP): {why}.");
}
