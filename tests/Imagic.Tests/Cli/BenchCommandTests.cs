namespace Imagic.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class BenchCommandTests
{
    [Fact]
    public void Bench_QuickOneCaseOnTinySd1_WritesEveryReport()
    {
        var dir = TestPaths.NewTempDir();

        var (code, stdout, stderr) = CliHarness.Run("bench", "--suite", "shapes", "--quick", "--model", TestPaths.TinySd1,
            "--cases", "1", "--steps", "2", "--embedding-steps", "1", "--finetune-steps", "1", "--out", dir);

        Assert.True(code == 0, stderr);
        Assert.Contains("1 cases", stdout);
        foreach (var file in new[] { "results.json", "summary.md", "chart.png", "chart-input.png", "examples.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        Assert.Contains("imagic bench --suite shapes --quick", File.ReadAllText(Path.Combine(dir, "summary.md")));
    }

    [Fact]
    public void Bench_UnknownMethod_FailsClearly()
    {
        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "imagic,magic",
            "--cases", "1", "--out", TestPaths.NewTempDir());
        Assert.Equal(1, code);
        Assert.Contains("Unknown method(s) magic", stderr);
    }
}
