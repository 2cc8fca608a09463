using Imagic.Imaging;

namespace Imagic.Tests.Imaging;

public class ImageDistanceTests
{
    [Fact]
    public void Psnr_IsCappedForIdenticalImages_AndFollowsTheMeanSquaredError()
    {
        var grey = new RgbImage(8, 4, new Rgb(100, 100, 100));
        Assert.Equal(ImageDistance.MaxPsnr, ImageDistance.Psnr(grey, grey.Clone()));

        // Every channel of every pixel one level off: MSE 1, so 10·log₁₀(255²) dB.
        Assert.Equal(10 * Math.Log10(255.0 * 255.0), ImageDistance.Psnr(grey, new RgbImage(8, 4, new Rgb(101, 99, 101))), 9);

        // One channel of half the pixels 20 levels off: MSE 20² / 6.
        var half = grey.Clone();
        for (int x = 0; x < 8; x++)
            for (int y = 0; y < 2; y++)
                half.SetPixel(x, y, new Rgb(120, 100, 100));
        Assert.Equal(10 * Math.Log10(255.0 * 255.0 * 6 / 400), ImageDistance.Psnr(grey, half), 9);
        Assert.Equal(ImageDistance.Psnr(grey, half), ImageDistance.Psnr(half, grey));
    }

    [Fact]
    public void Psnr_RefusesImagesOfDifferentSizes()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageDistance.Psnr(new RgbImage(4, 4, Rgb.Black), new RgbImage(4, 5, Rgb.Black)));
        Assert.Contains("4x4 and 4x5", e.Message);
    }
}
