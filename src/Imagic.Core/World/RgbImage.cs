using Imagic.IO;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.World;

/// <summary>
/// A square RGB image with float channels in [0, 1], stored channel-first (CHW) like the model's input:
/// index <c>c·H·W + y·W + x</c>.
/// </summary>
public sealed class RgbImage
{
    /// <summary>Wraps <paramref name="chw"/> (not copied); its length must be 3·size².</summary>
    public RgbImage(int size, float[] chw)
    {
        if (size <= 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "must be positive");
        if (chw.Length != 3 * size * size)
            throw new ArgumentException($"A {size}×{size} RGB image needs {3 * size * size} floats, got {chw.Length}.", nameof(chw));
        Size = size;
        Chw = chw;
    }

    /// <summary>Width and height in pixels.</summary>
    public int Size { get; }

    /// <summary>The pixels, channel-first.</summary>
    public float[] Chw { get; }

    /// <summary>The colour of pixel (x, y).</summary>
    public Rgb this[int x, int y]
    {
        get
        {
            int plane = Size * Size, i = y * Size + x;
            return new Rgb(Chw[i], Chw[plane + i], Chw[2 * plane + i]);
        }
    }

    /// <summary>Interleaved 8-bit RGB (HWC), rounding and clamping each channel.</summary>
    public byte[] ToRgbBytes()
    {
        int plane = Size * Size;
        var bytes = new byte[3 * plane];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                bytes[3 * i + c] = (byte)Math.Clamp(MathF.Round(Chw[c * plane + i] * 255f), 0f, 255f);
        return bytes;
    }

    /// <summary>A float32 tensor of shape [3, size, size] with values in [0, 1], on the CPU.</summary>
    public Tensor ToTensor() => torch.tensor(Chw, [3, Size, Size], ScalarType.Float32);

    /// <summary>Writes the image as a PNG, for looking at samples while debugging.</summary>
    public void SavePng(string path)
    {
        var rgb = ToRgbBytes();
        using var bitmap = new SKBitmap(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                int i = 3 * (y * Size + x);
                bitmap.SetPixel(x, y, new SKColor(rgb[i], rgb[i + 1], rgb[i + 2]));
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, data.AsSpan());
    }
}
