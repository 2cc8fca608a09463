using Imagic.Imaging;
using Imagic.Pipelines;
using Imagic.Quality;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Quality;

/// <summary>Every method on one case of tiny-sd1 (random weights, 64×64): the mechanics, not the quality.</summary>
public class EditMethodsTests
{
    static readonly EditCase Case = EditSuite.Shapes(casesPerCategory: 1).Cases[0];

    static (Tensor Image, Tensor Noise) Inputs(StableDiffusionPipeline pipe)
    {
        int size = pipe.DefaultResolution;
        return (ImageTensors.ToTensor(Case.Input(size).ToImage()), EditMethod.CaseNoise(pipe, Case, size));
    }

    [Theory]
    [InlineData(EditMethod.ImagicName, 2)]
    [InlineData(EditMethod.SdEditName, 2)]
    [InlineData(EditMethod.InversionName, 2)]
    [InlineData(EditMethod.TextToImageName, 1)]
    public void Method_OnOneCase_GivesOneImagePerSweepPointAtModelResolution(string name, int points)
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var method = EditMethod.Create(name, pipe, QualityTestData.Fast);
        var (image, noise) = Inputs(pipe);

        var outputs = method.Edit(Case, image, noise);

        Assert.Equal(points, outputs.Count);
        Assert.Equal(method.Points, outputs.Select(o => o.Value));
        Assert.All(outputs, o => Assert.Equal((pipe.DefaultResolution, pipe.DefaultResolution), (o.Image.Width, o.Image.Height)));
    }

    [Fact]
    public void Imagic_BenchmarkAndImagicEdit_GiveIdenticalImagesForTheSameCaseSeedAndSettings()
    {
        var settings = QualityTestData.Fast;
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var method = EditMethod.Create(EditMethod.ImagicName, pipe, settings);
        var (image, noise) = Inputs(pipe);
        var dir = TestPaths.NewTempDir();
        var photo = Path.Combine(dir, "input.png");
        ImageIO.SavePng(Case.Input(pipe.DefaultResolution).ToImage(), photo);
        var options = settings.Imagic with
        {
            Seed = Case.Seed, SamplingSteps = settings.SamplingSteps, GuidanceScale = settings.GuidanceScale, EtaSweep = settings.Etas,
        };

        var bench = method.Edit(Case, image, noise);
        var (_, sweep) = Imagic.Editing.EditWorkflow.Start(new Imagic.Editing.EditRequest(photo, Case.TargetText, TestPaths.TinySd1, Path.Combine(dir, "run"), options));

        Assert.Equal(bench.Count, sweep.ImagePaths.Count);
        for (int i = 0; i < bench.Count; i++)
            Assert.True(bench[i].Image.Pixels.SequenceEqual(ImageIO.Load(sweep.ImagePaths[i]).Pixels), $"η = {bench[i].Value}: the images differ");
    }

    [Fact]
    public void Imagic_AfterACase_RestoresThePretrainedUNet()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var before = pipe.UNet.conv_in.weight!.clone();
        using var method = EditMethod.Create(EditMethod.ImagicName, pipe, QualityTestData.Fast);
        var (image, noise) = Inputs(pipe);

        method.Edit(Case, image, noise);

        Assert.True(Tensors.Identical(before, pipe.UNet.conv_in.weight!), "stage B's fine-tuning leaked into the next case");
        Assert.All(pipe.UNet.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void EveryMethod_SameCaseTwice_GivesTheSameImages()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var (image, noise) = Inputs(pipe);
        foreach (var name in EditMethod.AllNames)
        {
            using var method = EditMethod.Create(name, pipe, QualityTestData.Fast);
            var a = method.Edit(Case, image, noise);
            var b = method.Edit(Case, image, noise);
            Assert.Equal(a.Select(o => o.Image.Pixels), b.Select(o => o.Image.Pixels));
        }
    }

    [Fact]
    public void DdimInversion_ThenSamplingTheSamePrompt_ReturnsCloseToTheInputLatents()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var scope = torch.NewDisposeScope();
        var z0 = pipe.EncodeImage(Inputs(pipe).Image);
        var cond = pipe.EncodePrompt(Case.SourceText);
        const int steps = 25;

        var zT = DdimInversion.Invert(pipe, z0, cond, steps);
        var back = pipe.Sample(cond, cond, zT, new SamplingOptions { Steps = steps, GuidanceScale = 1 });

        // Deterministic DDIM from the inverted noise lands near z₀; from fresh noise it would not.
        var fresh = pipe.Sample(cond, cond, torch.randn_like(z0), new SamplingOptions { Steps = steps, GuidanceScale = 1 });
        double error = (back - z0).Squared().mean().item<float>();
        double baseline = (fresh - z0).Squared().mean().item<float>();
        Assert.True(error < 0.1 * baseline, $"inversion round trip error {error} vs {baseline} from fresh noise");
    }

    [Fact]
    public void Create_UnknownMethod_FailsClearly()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var e = Assert.Throws<ImagicException>(() => EditMethod.Create("prompt2prompt", pipe, QualityTestData.Fast));
        Assert.Contains("imagic, sdedit, inversion, t2i", e.Message);
    }

    [Fact]
    public void Settings_Quick_KeepsEveryEtaAndCapsSteps()
    {
        var full = new BenchSettings { SamplingSteps = 50 };
        var quick = full.Quick();

        Assert.Equal(full.Etas, quick.Etas);
        Assert.Equal(20, quick.SamplingSteps);
        Assert.Equal([0.4, 0.6, 0.8], quick.Strengths);
        Assert.Equal([1, 3, 7.5], quick.InversionGuidance);
        Assert.Equal(BenchSettings.QuickMaxTrainingSteps, quick.Imagic.EmbeddingSteps);
        Assert.Equal(BenchSettings.QuickMaxTrainingSteps, quick.Imagic.FinetuneSteps);
        Assert.Equal(full.Imagic.FinetuneLearningRate, quick.Imagic.FinetuneLearningRate);
    }

    [Fact]
    public void Settings_Quick_KeepsShorterTrainingAsItIs()
    {
        var settings = new BenchSettings { Imagic = new() { EmbeddingSteps = 120, FinetuneSteps = 80 } };
        var quick = settings.Quick();
        Assert.Equal((120, 80), (quick.Imagic.EmbeddingSteps, quick.Imagic.FinetuneSteps));
    }
}
