using Imagic.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Imaging;

public class ImageTensorsTests
{
    /// <summary>A 16x16 image whose 256 pixels take every 8-bit value once per channel (shifted per channel).</summary>
    static RgbImage AllValues()
    {
        var pixels = new byte[16 * 16 * 3];
        for (int i = 0; i < 256; i++)
        {
            pixels[3 * i] = (byte)i;
            pixels[3 * i + 1] = (byte)(255 - i);
            pixels[3 * i + 2] = (byte)((i * 7) % 256);
        }
        return new RgbImage(16, 16, pixels);
    }

    [Fact]
    public void ToTensor_GivesFloat32Nchw_InMinusOneToOne()
    {
        using var tensor = ImageTensors.ToTensor(AllValues());

        Assert.Equal(new long[] { 1, 3, 16, 16 }, tensor.shape);
        Assert.Equal(ScalarType.Float32, tensor.dtype);
        Assert.Equal(-1f, tensor[0, 0, 0, 0].item<float>());        // red of pixel 0 is 0
        Assert.Equal(1f, tensor[0, 1, 0, 0].item<float>());         // green of pixel 0 is 255
        Assert.Equal(1f, tensor[0, 0, 15, 15].item<float>());       // red of pixel 255 is 255
        Assert.Equal(2f * (1f / 255f) - 1f, tensor[0, 0, 0, 1].item<float>());
    }

    [Fact]
    public void ToImageOfToTensor_IsExactForEvery8BitValue()
    {
        var image = AllValues();

        using var tensor = ImageTensors.ToTensor(image);
        var back = ImageTensors.ToImage(tensor);

        Assert.Equal(image.Pixels, back.Pixels);
    }

    [Fact]
    public void ToImage_AcceptsChwAndClampsOutOfRangeValues()
    {
        // Given a [3, 1, 3] tensor with values beyond [-1, 1] and the exact midpoint 0
        using var tensor = torch.tensor(new float[] { -3f, 0f, 5f, -1f, 1f, 0.5f, 0f, 0f, 0f }).reshape(3, 1, 3);

        var image = ImageTensors.ToImage(tensor);

        Assert.Equal((3, 1), (image.Width, image.Height));
        Assert.Equal(new Rgb(0, 0, 128), image.GetPixel(0, 0));     // 0 maps to 127.5, which rounds to 128
        Assert.Equal(new Rgb(128, 255, 128), image.GetPixel(1, 0));
        Assert.Equal(new Rgb(255, 191, 128), image.GetPixel(2, 0)); // 0.75·255 = 191.25 → 191
    }

    [Fact]
    public void ToImage_BatchOfTwo_IsRejected()
    {
        using var tensor = torch.zeros(2, 3, 4, 4);

        Assert.Throws<ArgumentException>(() => ImageTensors.ToImage(tensor));
    }
}
