using Imagic.IO;
using Imagic.Pipelines;
using Imagic.Tests.IO;

namespace Imagic.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class SingleFileCommandTests
{
    [Fact]
    public void Generate_FromSingleFile_WritesTheSamePngAsFromTheFolder()
    {
        // Given the tiny SD 1.x reference as a folder and as one file
        var file = SingleFileTestData.Sd1TinyFile();
        var dir = TestPaths.NewTempDir();
        string fromFolder = Path.Combine(dir, "folder.png"), fromFile = Path.Combine(dir, "file.png");
        string[] common = ["--prompt", "a blue square", "--steps", "2", "--height", "32", "--width", "32", "--seed", "3"];

        // When both are given to `imagic generate`
        var a = CliHarness.Run(["generate", "--model", TestPaths.TinySd1, .. common, "--out", fromFolder]);
        var b = CliHarness.Run(["generate", "--model", file, "--config", TestPaths.TinySd1, .. common, "--out", fromFile]);

        // Then both succeed with byte-identical images
        Assert.True(a.ExitCode == 0, a.Err);
        Assert.True(b.ExitCode == 0, b.Err);
        Assert.Equal(File.ReadAllBytes(fromFolder), File.ReadAllBytes(fromFile));
    }

    [Fact]
    public void Convert_WritesAFolderThatLoadsToTheSameTensors()
    {
        // Given the tiny SD 1.x reference as one file
        var file = SingleFileTestData.Sd1TinyFile();
        var output = Path.Combine(TestPaths.NewTempDir(), "converted");

        // When it is converted
        var (code, stdout, stderr) = CliHarness.Run("convert", file, "--config", TestPaths.TinySd1, "--out", output);

        // Then the folder is a diffusers folder whose weights equal the reference's
        Assert.True(code == 0, stderr);
        Assert.Contains("Wrote", stdout);
        using var reference = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var converted = StableDiffusionPipeline.Load(output);
        foreach (var (name, p) in reference.UNet.named_parameters())
            Assert.True(Tensors.Identical(p, converted.UNet.get_parameter(name)!), name);
        Assert.True(File.Exists(Path.Combine(output, "tokenizer", "vocab.json")));
    }

    [Theory]
    [InlineData("ckpt", "convert it to .safetensors")]
    [InlineData("no-family", "cross-attention width is 32")]
    [InlineData("cuda", "no CUDA support")]
    [InlineData("bad-device", "Unknown device 'tpu'")]
    public void BadCheckpointOrDevice_PrintsOneLineError(string problem, string expected)
    {
        var dir = TestPaths.NewTempDir();
        string[] args = problem switch
        {
            "ckpt" => ["generate", "--model", Path.Combine(dir, "v1-5-pruned-emaonly.ckpt"), "--prompt", "x"],
            "no-family" => ["generate", "--model", SingleFileTestData.Sd1TinyFile(), "--prompt", "x", "--out", Path.Combine(dir, "x.png")],
            "cuda" => ["generate", "--model", TestPaths.TinySd1, "--prompt", "x", "--device", "cuda", "--out", Path.Combine(dir, "x.png")],
            _ => ["generate", "--model", TestPaths.TinySd1, "--prompt", "x", "--device", "tpu", "--out", Path.Combine(dir, "x.png")],
        };
        var (code, _, stderr) = CliHarness.Run(args);
        Assert.Equal(1, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
