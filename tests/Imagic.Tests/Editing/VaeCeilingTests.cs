using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Pipelines;

namespace Imagic.Tests.Editing;

/// <summary>The VAE round trip that bounds η = 0, and the warning for inputs a model cannot represent.</summary>
public class VaeCeilingTests
{
    static VaeCeiling Measure(StableDiffusionPipeline pipe, RgbImage image)
    {
        using var tensor = ImageTensors.ToTensor(image);
        using var latents = pipe.EncodeImage(tensor);
        return VaeCeiling.Measure(pipe, latents, image);
    }

    /// <summary>A dark grey book with white lines on white: nothing like the shapes world's flat palette colours.</summary>
    static RgbImage GreyBook(int size)
    {
        var image = new RgbImage(size, size, Rgb.White);
        for (int y = size / 8; y < 7 * size / 8; y++)
            for (int x = size / 5; x < 4 * size / 5; x++)
            {
                bool line = y / 4 % 3 == 0 && x > size / 3 && x < 2 * size / 3;
                image.SetPixel(x, y, line ? Rgb.White : new Rgb(60, 60, 60));
            }
        return image;
    }

    [Fact]
    public void BundledModel_HoldsItsOwnScenes_ButNotAGreyDrawing_WhichIsWarnedAbout()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        int size = pipe.DefaultResolution;
        var scene = ImageIO.Fit(ImageIO.Load(Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png")), size, size, FitMode.CenterCrop);

        var own = Measure(pipe, scene);
        var foreign = Measure(pipe, GreyBook(size));

        Assert.True(own.Psnr > 30, $"the round trip of a shapes scene is {own.Psnr:F1} dB");
        Assert.Null(VaeCeiling.Warning(own.Psnr, "vae_roundtrip.png"));
        Assert.True(foreign.Psnr < VaeCeiling.WarnBelowDb - 1, $"the round trip of a grey drawing is {foreign.Psnr:F1} dB");
        Assert.Contains("vae_roundtrip.png", VaeCeiling.Warning(foreign.Psnr, "vae_roundtrip.png"));
        Assert.Equal((size, size), (foreign.RoundTrip.Width, foreign.RoundTrip.Height));
        Assert.Equal(foreign.Psnr, ImageDistance.Psnr(foreign.RoundTrip, GreyBook(size)));
    }

    [Fact]
    public void Warning_StartsBelowTheThreshold_AndStatesThePsnr()
    {
        Assert.Null(VaeCeiling.Warning(VaeCeiling.WarnBelowDb, "r.png"));
        Assert.Contains("only 17.9 dB", VaeCeiling.Warning(17.94, "r.png"));
    }
}
