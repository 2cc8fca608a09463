using Imagic.Imaging;
using SkiaSharp;

namespace Imagic.Tests.Imaging;

public class ImageIOTests
{
    static readonly Rgb Red = new(255, 0, 0);
    static readonly Rgb Blue = new(0, 0, 255);

    static RgbImage Noise(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Blue image whose top-left quadrant is red.</summary>
    static RgbImage Quadrant(int width, int height)
    {
        var image = new RgbImage(width, height, Blue);
        for (int y = 0; y < height / 2; y++)
            for (int x = 0; x < width / 2; x++)
                image.SetPixel(x, y, Red);
        return image;
    }

    static byte[] EncodeJpeg(RgbImage image)
    {
        using var bitmap = ImageIO.ToBitmap(image);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);
        return data.ToArray();
    }

    /// <summary>Inserts a minimal EXIF APP1 segment (big-endian TIFF, one IFD entry: Orientation) after the JPEG SOI marker.</summary>
    static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        byte[] payload =
        [
            (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0,
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8,          // TIFF header, first IFD at offset 8
            0, 1,                                             // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1,                     // tag 0x0112 Orientation, SHORT, count 1
            (byte)(orientation >> 8), (byte)orientation, 0, 0,
            0, 0, 0, 0,                                       // no next IFD
        ];
        int length = payload.Length + 2;
        byte[] segment = [0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload];
        Assert.Equal(new byte[] { 0xFF, 0xD8 }, jpeg[..2]);
        return [.. jpeg[..2], .. segment, .. jpeg[2..]];
    }

    static string WriteTemp(string name, byte[] bytes)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static void AssertNear(Rgb expected, Rgb actual, int tolerance)
    {
        Assert.True(Math.Abs(expected.R - actual.R) <= tolerance && Math.Abs(expected.G - actual.G) <= tolerance
            && Math.Abs(expected.B - actual.B) <= tolerance, $"expected ~{expected}, got {actual}");
    }

    [Fact]
    public void SavePngThenLoad_IsLossless()
    {
        var image = Noise(37, 23, seed: 1);
        var path = Path.Combine(TestPaths.NewTempDir(), "out", "noise.png");

        ImageIO.SavePng(image, path);
        var loaded = ImageIO.Load(path);

        Assert.Equal((37, 23), (loaded.Width, loaded.Height));
        Assert.Equal(image.Pixels, loaded.Pixels);
    }

    [Fact]
    public void Load_JpegWithoutExif_KeepsOrientationAndColours()
    {
        var path = WriteTemp("plain.jpg", EncodeJpeg(Quadrant(32, 16)));

        var loaded = ImageIO.Load(path);

        Assert.Equal((32, 16), (loaded.Width, loaded.Height));
        AssertNear(Red, loaded.GetPixel(4, 4), 40); // red stays red: no BGRA swap
        AssertNear(Blue, loaded.GetPixel(28, 12), 40);
    }

    [Fact]
    public void Load_JpegWithExifOrientation6_IsRotatedClockwise()
    {
        // Given a 32x16 JPEG, red top-left quadrant, tagged "rotate 90° clockwise to display"
        var path = WriteTemp("rotated.jpg", WithExifOrientation(EncodeJpeg(Quadrant(32, 16)), 6));

        // When it is loaded
        var loaded = ImageIO.Load(path);

        // Then it is upright: 16x32, and the stored top-left corner is now the top-right
        Assert.Equal((16, 32), (loaded.Width, loaded.Height));
        AssertNear(Red, loaded.GetPixel(12, 4), 40);
        AssertNear(Blue, loaded.GetPixel(3, 4), 40);
        AssertNear(Blue, loaded.GetPixel(12, 28), 40);
    }

    [Theory]
    [InlineData(SKEncodedOrigin.TopLeft, 3, "abc/def")]
    [InlineData(SKEncodedOrigin.TopRight, 3, "cba/fed")]
    [InlineData(SKEncodedOrigin.BottomRight, 3, "fed/cba")]
    [InlineData(SKEncodedOrigin.BottomLeft, 3, "def/abc")]
    [InlineData(SKEncodedOrigin.LeftTop, 2, "ad/be/cf")]
    [InlineData(SKEncodedOrigin.RightTop, 2, "da/eb/fc")]
    [InlineData(SKEncodedOrigin.RightBottom, 2, "fc/eb/da")]
    [InlineData(SKEncodedOrigin.LeftBottom, 2, "cf/be/ad")]
    public void Orient_EveryExifOrigin_MatchesPilExifTranspose(SKEncodedOrigin origin, int width, string expected)
    {
        // Given the 3x2 image "abc/def", one grey level per letter
        var image = new RgbImage(3, 2, Rgb.Black);
        for (int i = 0; i < 6; i++)
            image.SetPixel(i % 3, i / 3, new Rgb((byte)('a' + i), 0, 0));

        var upright = ImageIO.Orient(image, origin);

        var rows = Enumerable.Range(0, upright.Height)
            .Select(y => new string(Enumerable.Range(0, upright.Width).Select(x => (char)upright.GetPixel(x, y).R).ToArray()));
        Assert.Equal(width, upright.Width);
        Assert.Equal(expected, string.Join("/", rows));
    }

    [Fact]
    public void Load_TransparentPng_IsCompositedOnWhite()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.SetPixel(0, 0, new SKColor(255, 0, 0, 0));
        bitmap.SetPixel(1, 0, new SKColor(0, 0, 0, 128));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var path = WriteTemp("alpha.png", data.ToArray());

        var loaded = ImageIO.Load(path);

        Assert.Equal(Rgb.White, loaded.GetPixel(0, 0));
        AssertNear(new Rgb(127, 127, 127), loaded.GetPixel(1, 0), 1);
    }

    [Fact]
    public void Load_TextFileNamedPng_FailsAsNotAnImage()
    {
        var path = WriteTemp("notes.png", "just some text, not pixels"u8.ToArray());

        var e = Assert.Throws<ImagicException>(() => ImageIO.Load(path));

        Assert.Contains("is not a readable image (PNG, JPEG or WebP)", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Load_TruncatedJpeg_Fails()
    {
        var jpeg = EncodeJpeg(Noise(64, 64, seed: 2));
        var path = WriteTemp("cut.jpg", jpeg[..(jpeg.Length / 2)]);

        var e = Assert.Throws<ImagicException>(() => ImageIO.Load(path));

        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Load_Gif_FailsNamingTheFormat()
    {
        byte[] gif = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0,
            0x21, 0xF9, 4, 1, 0, 0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3B];
        var path = WriteTemp("pixel.gif", gif);

        var e = Assert.Throws<ImagicException>(() => ImageIO.Load(path));

        Assert.Contains("Gif", e.Message);
    }

    [Fact]
    public void Load_MissingFile_FailsNamingIt()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "absent.png");

        var e = Assert.Throws<ImagicException>(() => ImageIO.Load(path));

        Assert.Contains("not found", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Load_WebP_Decodes()
    {
        using var bitmap = ImageIO.ToBitmap(Quadrant(32, 32));
        using var data = bitmap.Encode(SKEncodedImageFormat.Webp, 100);
        var path = WriteTemp("q.webp", data.ToArray());

        var loaded = ImageIO.Load(path);

        Assert.Equal((32, 32), (loaded.Width, loaded.Height));
        AssertNear(Red, loaded.GetPixel(4, 4), 40);
        AssertNear(Blue, loaded.GetPixel(28, 28), 40);
    }

    [Fact]
    public void Fit_CenterCrop_GivesTargetSizeAndKeepsTheCentre()
    {
        // Given a wide blue image with a red square in the middle
        var image = new RgbImage(64, 32, Blue);
        for (int y = 8; y < 24; y++)
            for (int x = 24; x < 40; x++)
                image.SetPixel(x, y, Red);

        // When it is cropped to a square of the same height
        var fitted = ImageIO.Fit(image, 32, 32, FitMode.CenterCrop);

        // Then the red square is centred and the sides are cut off exactly
        Assert.Equal((32, 32), (fitted.Width, fitted.Height));
        Assert.Equal(Red, fitted.GetPixel(16, 16));
        Assert.Equal(Blue, fitted.GetPixel(0, 0));
        Assert.Equal(Blue, fitted.GetPixel(31, 31));
        Assert.Equal(Red, fitted.GetPixel(8, 8));
        Assert.Equal(Blue, fitted.GetPixel(7, 7));
    }

    [Fact]
    public void Fit_CenterCropWithScaling_GivesTargetSize()
    {
        var fitted = ImageIO.Fit(Noise(300, 200, seed: 3), 64, 48, FitMode.CenterCrop);

        Assert.Equal((64, 48), (fitted.Width, fitted.Height));
    }

    [Fact]
    public void Fit_Pad_KeepsWholeImageCentredOnMidGrey()
    {
        var image = new RgbImage(64, 32, Red);

        var fitted = ImageIO.Fit(image, 32, 32, FitMode.Pad);

        Assert.Equal((32, 32), (fitted.Width, fitted.Height));
        Assert.Equal(Rgb.MidGrey, fitted.GetPixel(16, 0));   // 8 rows of padding above
        Assert.Equal(Rgb.MidGrey, fitted.GetPixel(16, 31));  // and below
        Assert.Equal(Red, fitted.GetPixel(16, 16));
        Assert.Equal(Red, fitted.GetPixel(0, 8));
        Assert.Equal(Red, fitted.GetPixel(31, 23));
    }

    [Fact]
    public void Fit_PadWithColour_UsesIt()
    {
        var fitted = ImageIO.Fit(new RgbImage(10, 40, Red), 20, 20, FitMode.Pad, Rgb.Black);

        Assert.Equal(Rgb.Black, fitted.GetPixel(0, 10));
        Assert.Equal(Red, fitted.GetPixel(10, 10));
    }
}
