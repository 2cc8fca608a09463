namespace Imagic.Imaging;

/// <summary>An 8-bit sRGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static Rgb White => new(255, 255, 255);
    public static Rgb Black => new(0, 0, 0);
    /// <summary>Mid grey (127, 127, 127): about 0 in the [-1, 1] range the models see, so padding adds no signal.</summary>
    public static Rgb MidGrey => new(127, 127, 127);
}

/// <summary>
/// An opaque 8-bit RGB image: <see cref="Pixels"/> holds R, G, B bytes per pixel, row by row from the top
/// left, with no row padding (length = width × height × 3).
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Interleaved RGB bytes, row-major from the top-left pixel.</summary>
    public byte[] Pixels { get; }

    /// <summary>Wraps <paramref name="pixels"/> (not copied); its length must be width × height × 3.</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height * 3)
            throw new ArgumentException($"A {width}x{height} RGB image needs {(long)width * height * 3} bytes, got {pixels.LongLength}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>A copy enlarged <paramref name="factor"/> times by pixel repetition, so small images stay sharp when viewed.</summary>
    public RgbImage Enlarge(int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        var pixels = new byte[Width * factor * Height * factor * 3];
        for (int y = 0; y < Height * factor; y++)
            for (int x = 0; x < Width * factor; x++)
                Array.Copy(Pixels, ((y / factor) * Width + x / factor) * 3, pixels, (y * Width * factor + x) * 3, 3);
        return new RgbImage(Width * factor, Height * factor, pixels);
    }

    /// <summary>A <paramref name="width"/> × <paramref name="height"/> image filled with <paramref name="fill"/>.</summary>
    public RgbImage(int width, int height, Rgb fill)
        : this(width, height, new byte[checked(width * height * 3)])
    {
        for (int i = 0; i < Pixels.Length; i += 3)
        {
            Pixels[i] = fill.R;
            Pixels[i + 1] = fill.G;
            Pixels[i + 2] = fill.B;
        }
    }

    public Rgb GetPixel(int x, int y)
    {
        int i = Index(x, y);
        return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    public void SetPixel(int x, int y, Rgb color)
    {
        int i = Index(x, y);
        Pixels[i] = color.R;
        Pixels[i + 1] = color.G;
        Pixels[i + 2] = color.B;
    }

    /// <summary>A deep copy.</summary>
    public RgbImage Clone() => new(Width, Height, (byte[])Pixels.Clone());

    int Index(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"Pixel ({x}, {y}) is outside the {Width}x{Height} image.");
        return (y * Width + x) * 3;
    }
}
