using Imagic.Editing;
using Imagic.Tests.Editing;

namespace Imagic.Tests.Cli;

/// <summary>The options several commands share: --model's bundled default, --threads, --fit and --finetune as enums.</summary>
[Collection(ConsoleCollection.Name)]
public class CommonOptionsTests
{
    [Fact]
    public void Generate_WithoutModel_UsesTheBundledModel()
    {
        var output = Path.Combine(TestPaths.NewTempDir(), "circle.png");

        var (code, stdout, stderr) = CliHarness.Run("generate", "--prompt", "a large red circle in the center", "--steps", "1", "--out", output);

        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(output));
        Assert.Contains("circle.png", stdout);
    }

    [Fact]
    public void Edit_FitPadFinetuneLoraStartInversionNoiseFromEtaForgetDecoderMaskAutoAndShareAttention_AreParsed()
    {
        var dir = TestPaths.NewTempDir();
        var run = Path.Combine(dir, "run");
        var wide = Path.Combine(dir, "wide.png");
        var disc = Imagic.Imaging.ImageIO.Load(EditTestData.WriteInputImage(dir));
        Imagic.Imaging.ImageIO.SavePng(Imagic.Imaging.ImageIO.Fit(disc, 96, 48, Imagic.Imaging.FitMode.CenterCrop), wide);

        var (code, _, stderr) = CliHarness.Run("edit", "--image", wide, "--prompt", "a dog", "--model", TestPaths.TinySd1, "--out", run,
            "--embedding-steps", "1", "--finetune-steps", "1", "--steps", "1", "--eta", "1", "--fit", "pad", "--finetune", "lora",
            "--start", "inversion", "--noise-from-eta", "0.9", "--guidance-ramp", "0.8", "--forget", "decoder", "--mask", "auto", "--share-attention", "0.5", "--guidance-negative", "reconstruction", "--threads", "1");

        Assert.True(code == 0, stderr);
        Assert.Equal(Imagic.Training.FinetuneMethod.Lora, EditRun.Open(run).ReadManifest().Options.FinetuneMethod);
        Assert.Equal(SamplingStart.Inversion, EditRun.Open(run).ReadManifest().Options.SamplingStart);
        Assert.Equal(0.9, EditRun.Open(run).ReadManifest().Options.NoiseFromEta);
        Assert.Equal(0.8, EditRun.Open(run).ReadManifest().Options.GuidanceRamp);
        Assert.Equal(Imagic.Models.UNetHalf.Decoder, EditRun.Open(run).ReadManifest().Options.Forget);
        Assert.Equal(EditMaskMode.Auto, EditRun.Open(run).ReadManifest().Options.Mask);
        Assert.Equal(0.5, EditRun.Open(run).ReadManifest().Options.ShareAttention);
        Assert.Equal(GuidanceNegative.Reconstruction, EditRun.Open(run).ReadManifest().Options.GuidanceNegative);
        // Padding keeps the whole wide photo: the top and bottom rows are the mid-grey padding.
        var input = Imagic.Imaging.ImageIO.Load(Path.Combine(run, "input.png"));
        Assert.Equal(new Imagic.Imaging.Rgb(127, 127, 127), input.GetPixel(0, 0));
    }

    [Theory]
    [InlineData("--fit", "stretch")]
    [InlineData("--finetune", "half")]
    [InlineData("--threads", "0")]
    [InlineData("--start", "sideways")]
    [InlineData("--forget", "middle")]
    [InlineData("--noise-from-eta", "2.5")]
    [InlineData("--noise-from-eta", "soon")]
    [InlineData("--guidance-ramp", "0")]
    [InlineData("--guidance-ramp", "-1")]
    [InlineData("--mask", "everything")]
    [InlineData("--share-attention", "1.5")]
    [InlineData("--share-attention", "half")]
    [InlineData("--guidance-negative", "source")]
    [InlineData("--finetune", "encoder")]
    public void Edit_BadSharedOptionValue_FailsNamingIt(string option, string value)
    {
        var dir = TestPaths.NewTempDir();

        var (code, stdout, stderr) = CliHarness.Run("edit", "--image", EditTestData.WriteInputImage(dir), "--prompt", "a dog",
            "--model", TestPaths.TinySd1, "--out", Path.Combine(dir, "run"), option, value);

        Assert.NotEqual(0, code);
        Assert.Contains(value, stdout + stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Theory]
    [InlineData("--noise-from-eta", "2.5", "--noise-from-eta takes an η between 0 and 2, or 'off'; got '2.5'.")]
    [InlineData("--guidance-ramp", "0", "--guidance-ramp takes an η above 0 and at most 2, or 'off'; got '0'.")]
    public void Edit_EtaOrOffOption_OutOfRange_SaysWhatItTakes(string option, string value, string message)
    {
        var dir = TestPaths.NewTempDir();

        var (code, _, stderr) = CliHarness.Run("edit", "--image", EditTestData.WriteInputImage(dir), "--prompt", "a dog",
            "--model", TestPaths.TinySd1, "--out", Path.Combine(dir, "run"), option, value);

        Assert.NotEqual(0, code);
        Assert.Contains(message, stderr);
    }
}
