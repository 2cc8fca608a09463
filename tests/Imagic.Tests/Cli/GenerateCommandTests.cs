using Imagic.Imaging;
using Imagic.IO;
using Imagic.Tests.Pipelines;
using TorchSharp;

namespace Imagic.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class GenerateCommandTests
{
    [Fact]
    public void Generate_WithReferenceLatents_WritesTheReferenceImage()
    {
        var dir = TestPaths.NewTempDir();
        var latents = Path.Combine(dir, "init.safetensors");
        SafeTensors.Save(latents, new Dictionary<string, torch.Tensor> { ["latents"] = Reference.Get("sample_init") });
        var output = Path.Combine(dir, "x.png");

        var (code, stdout, stderr) = CliHarness.Run("generate", "--model", TestPaths.TinySd1, "--prompt", "a photo of a dog standing",
            "--latents", latents, "--steps", "10", "--guidance", "7.5", "--out", output);

        Assert.True(code == 0, stderr);
        Assert.Contains("Wrote", stdout);
        var expected = ImageTensors.ToImage(Reference.Get("sample_image"));
        Assert.True(SamplingParityTests.MeanAbsDifference(expected, ImageIO.Load(output)) <= 1.0);
    }

    [Theory]
    [InlineData("missing-model", "not")]
    [InlineData("bad-size", "multiples of 4")]
    [InlineData("truncated-weights", "truncated")]
    [InlineData("missing-config", "config")]
    public void Generate_BadInput_PrintsOneClearErrorAndNoStackTrace(string problem, string expectedText)
    {
        var dir = TestPaths.NewTempDir();
        string model = TestPaths.TinySd1;
        var extra = new List<string>();
        switch (problem)
        {
            case "missing-model":
                model = Path.Combine(dir, "nowhere");
                break;
            case "bad-size":
                extra.AddRange(new[] { "--height", "62" });
                break;
            case "truncated-weights":
            case "missing-config":
                model = CopyModel(dir);
                if (problem == "missing-config")
                    File.Delete(Path.Combine(model, "unet", "config.json"));
                else
                {
                    var weights = Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors");
                    using var stream = new FileStream(weights, FileMode.Open);
                    stream.SetLength(stream.Length / 2);
                }
                break;
        }

        var (code, _, stderr) = CliHarness.Run(new[] { "generate", "--model", model, "--prompt", "a dog", "--steps", "1",
            "--out", Path.Combine(dir, "x.png") }.Concat(extra).ToArray());

        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(expectedText, stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(Path.Combine(dir, "x.png")));
    }

    [Fact]
    public void Help_ExplainsTheCommands()
    {
        var (code, stdout, _) = CliHarness.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("edit", stdout);
        Assert.Contains("generate", stdout);
        Assert.Contains("sample", stdout);
    }

    internal static string CopyModel(string dir)
    {
        var target = Path.Combine(dir, "model");
        foreach (var file in Directory.EnumerateFiles(TestPaths.TinySd1, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(TestPaths.TinySd1, file);
            if (rel.StartsWith("reference")) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, rel))!);
            File.Copy(file, Path.Combine(target, rel));
            File.SetAttributes(Path.Combine(target, rel), FileAttributes.Normal);
        }
        return target;
    }
}
