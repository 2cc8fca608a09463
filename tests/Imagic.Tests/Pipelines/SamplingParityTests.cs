using Imagic.Imaging;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Pipelines;

[Collection(TinySd1Collection.Name)]
public class SamplingParityTests(TinySd1Fixture fixture)
{
    [Fact]
    public void Sample_TenGuidedDdimSteps_MatchesReferenceLatentsAndImage()
    {
        // Given the reference's prompt, empty negative prompt and initial noise
        var pipe = fixture.Pipeline;
        var cond = pipe.EncodePrompt("a photo of a dog standing");
        var uncond = pipe.EncodePrompt("");
        var options = new SamplingOptions { Steps = 10, GuidanceScale = 7.5 };

        // When sampling and decoding
        var latents = pipe.Sample(cond, uncond, Reference.Get("sample_init"), options);
        var image = pipe.DecodeLatents(latents);

        // Then latents agree to about 1e-3 relative (their std is about 9) and the image to 1e-4
        var expected = Reference.Get("sample_latents");
        double scale = expected.abs().max().item<float>();
        Reference.AssertClose(expected, latents, 1e-3 * scale, "sample_latents");
        Reference.AssertClose(Reference.Get("sample_image"), image, 1e-4, "sample_image");
    }

    [Fact]
    public void Generate_WithReferenceNoise_GivesReferenceImagePixels()
    {
        var pipe = fixture.Pipeline;
        var image = pipe.Generate("a photo of a dog standing", "", new SamplingOptions { Steps = 10, GuidanceScale = 7.5 },
            seed: 0, initLatents: Reference.Get("sample_init"));
        var actual = ImageTensors.ToImage(image);
        var expected = ImageTensors.ToImage(Reference.Get("sample_image"));
        Assert.True(MeanAbsDifference(expected, actual) <= 1.0, "mean abs pixel difference above 1/255");
    }

    [Fact]
    public void Generate_SameSeed_IsBitwiseIdentical()
    {
        var pipe = fixture.Pipeline;
        var options = new SamplingOptions { Steps = 3, GuidanceScale = 5 };
        var a = pipe.Generate("a bird", "", options, seed: 42);
        var b = pipe.Generate("a bird", "", options, seed: 42);
        var c = pipe.Generate("a bird", "", options, seed: 43);
        Assert.True(a.eq(b).all().item<bool>());
        Assert.False(a.eq(c).all().item<bool>());
    }

    [Fact]
    public void Generate_SizeNotMultipleOfVaeFactor_FailsClearly()
    {
        var e = Assert.Throws<ImagicException>(() =>
            fixture.Pipeline.Generate("a bird", "", new SamplingOptions { Steps = 1 }, 0, height: 62, width: 64));
        Assert.Contains("multiples of 4", e.Message); // tiny-sd1 has a 3-block VAE: 4 pixels per latent
    }

    [Fact]
    public void EncodePrompt_LongerThan75Tokens_WarnsAboutTruncation()
    {
        var warnings = new List<string>();
        var pipe = fixture.Pipeline;
        pipe.Warn = warnings.Add;
        try
        {
            pipe.EncodePrompt(string.Join(" ", Enumerable.Repeat("a very long prompt", 40)));
        }
        finally
        {
            pipe.Warn = _ => { };
        }
        Assert.Contains(warnings, w => w.Contains("truncated"));
    }

    internal static double MeanAbsDifference(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        return a.Pixels.Zip(b.Pixels, (x, y) => Math.Abs(x - y)).Average();
    }
}
