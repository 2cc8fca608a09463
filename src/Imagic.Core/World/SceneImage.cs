using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.World;

/// <summary>
/// A square RGB image with float channels in [0, 1], stored channel-first (CHW) like the model's input:
/// index <c>c·H·W + y·W + x</c>.
/// </summary>
public sealed class SceneImage
{
    /// <summary>Wraps <paramref name="chw"/> (not copied); its length must be 3·size².</summary>
    public SceneImage(int size, float[] chw)
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
    public ColorF this[int x, int y]
    {
        get
        {
            int plane = Size * Size, i = y * Size + x;
            return new ColorF(Chw[i], Chw[plane + i], Chw[2 * plane + i]);
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

    /// <summary>The image as 8-bit RGB, for saving with <see cref="Imaging.ImageIO"/> or composing grids.</summary>
    public Imaging.RgbImage ToImage() => new(Size, Size, ToRgbBytes());

    /// <summary>Writes the image as a PNG (atomically).</summary>
    public void SavePng(string path) => Imaging.ImageIO.SavePng(ToImage(), path);

    /// <summary>Reads an 8-bit image (e.g. a decoded model output) back into channel-first floats in [0, 1].</summary>
    public static SceneImage From(Imaging.RgbImage image)
    {
        if (image.Width != image.Height)
            throw new ImagicException($"Shapes-world images are square; got {image.Width}x{image.Height}.");
        int plane = image.Width * image.Height;
        var chw = new float[3 * plane];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                chw[c * plane + i] = image.Pixels[3 * i + c] / 255f;
        return new SceneImage(image.Width, chw);
    }
}
