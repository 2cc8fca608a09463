using System.Text.Json;
using Imagic.Quality;

namespace Imagic.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class BenchCommandTests
{
    [Fact]
    public void Bench_QuickOneCaseOnTinySd1_WritesEveryReport()
    {
        var dir = TestPaths.NewTempDir();

        var (code, stdout, stderr) = CliHarness.Run("bench", "--suite", "shapes", "--quick", "--model", TestPaths.TinySd1,
            "--cases", "1", "--steps", "2", "--embedding-steps", "1", "--finetune-steps", "1", "--out", dir,
            "--embedding-lr", "0.003", "--finetune-lr", "0.0004", "--guidance", "4", "--guidance-rescale", "0.5",
            "--imagic-options", WriteOptions(dir, """{ "finetune_batch": 2, "timestep_sampling": "stratified" }"""));

        Assert.True(code == 0, stderr);
        Assert.Contains("1 cases", stdout);
        foreach (var file in new[] { "results.json", "summary.md", "chart.png", "chart-input.png", "examples.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        var summary = File.ReadAllText(Path.Combine(dir, "summary.md"));
        Assert.Contains("imagic bench --suite shapes --quick", summary);
        // The Imagic overrides reach the run, as its header reports them.
        Assert.Contains("guidance 4 (inversion: swept), guidance rescale 0.5", summary);
        Assert.Contains("stage A 1 steps × 1 at lr 0.003, stage B (full) 1 steps × 2 at lr 0.0004, stratified timesteps", summary);
        // One case is too few to resample: the curve table says so rather than print an interval of one.
        Assert.Contains("| 95 % interval |", summary);
        Assert.Matches(@"\| sdedit \| SSIM to the input \| [^|]+ \| [^|]+ \| – \|", summary);
    }

    static string WriteOptions(string dir, string json)
    {
        var path = Path.Combine(dir, "..", Path.GetFileName(dir) + "-options.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Bench_ImagicOptionsWithAnUnknownKey_FailsNamingIt()
    {
        var dir = TestPaths.NewTempDir();
        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "imagic", "--cases", "1",
            "--imagic-options", WriteOptions(dir, """{ "finetune_bacth": 2 }"""), "--out", dir);

        Assert.Equal(1, code);
        Assert.Contains("finetune_bacth", stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Fact]
    public void Bench_NonPositiveLearningRate_FailsClearly()
    {
        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "imagic",
            "--cases", "1", "--finetune-lr", "0", "--out", TestPaths.NewTempDir());
        Assert.Equal(1, code);
        Assert.Contains("stage B learning rate (--finetune-lr) must be a positive finite number, got 0", stderr);
    }

    [Fact]
    public void Bench_Shard_RunsOnlyItsCasesAndAFullRerunGathersThem()
    {
        var dir = TestPaths.NewTempDir();
        string[] common = ["bench", "--model", TestPaths.TinySd1, "--methods", "t2i", "--cases", "2", "--steps", "1", "--out", dir];

        var (code, stdout, stderr) = CliHarness.Run([.. common, "--shard", "2/2"]);

        Assert.True(code == 0, stderr);
        Assert.Contains("(1 cases", stdout);
        var second = EditSuite.Shapes().Take(2).Cases[1].Id;
        Assert.Equal([second], Directory.GetDirectories(Path.Combine(dir, "cases")).Select(Path.GetFileName));

        (code, stdout, stderr) = CliHarness.Run(common);

        Assert.True(code == 0, stderr);
        Assert.Contains("(2 cases", stdout);
        Assert.Contains($"{second} t2i: cached", stderr);
    }

    [Fact]
    public void Bench_CaseIds_RunsOnlyTheNamedCases_AndAnUnknownIdFailsInOneLine()
    {
        var dir = TestPaths.NewTempDir();
        var third = EditSuite.Shapes().Cases[2].Id;

        var (code, stdout, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "t2i", "--steps", "1",
            "--case-ids", third, "--out", dir);

        Assert.True(code == 0, stderr);
        Assert.Contains("(1 cases", stdout);
        Assert.Equal([third], Directory.GetDirectories(Path.Combine(dir, "cases")).Select(Path.GetFileName));

        var other = TestPaths.NewTempDir();
        (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "t2i", "--case-ids", "002-size,999-nope",
            "--out", other);
        Assert.Equal(1, code);
        Assert.Contains("has no case '999-nope'", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Empty(Directory.EnumerateFileSystemEntries(other));
    }

    [Fact]
    public void Bench_BaselineSweeps_AreTheOnesGiven()
    {
        var dir = TestPaths.NewTempDir();

        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "sdedit,inversion", "--cases", "1",
            "--steps", "1", "--strengths", "0.5", "--inversion-guidance", "1.5,2.5", "--out", dir);

        Assert.True(code == 0, stderr);
        var caseDir = Directory.GetDirectories(Path.Combine(dir, "cases")).Single();
        double[] Values(string method) => JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, method + ".json")))
            .RootElement.GetProperty("Points").EnumerateArray().Select(p => p.GetProperty("Value").GetDouble()).ToArray();
        Assert.Equal([0.5], Values("sdedit"));
        Assert.Equal([1.5, 2.5], Values("inversion"));
    }

    [Theory]
    [InlineData("--inversion-guidance", "0.5,2", "--inversion-guidance: a guidance scale must be in [1, 50], got 0.5.")]
    [InlineData("--inversion-guidance", "2,2", "--inversion-guidance lists 2 twice in '2,2'.")]
    [InlineData("--strengths", "0.5,1.5", "--strengths: an SDEdit strength must be in [0, 1], got 1.5.")]
    [InlineData("--strengths", "0", "SDEdit strengths must be in (0, 1].")]
    [InlineData("--strengths", "0.4,,0.6", "--strengths '0.4,,0.6' has an empty item")]
    public void Bench_BadBaselineSweep_FailsInOneLineAndWritesNothing(string option, string value, string message)
    {
        var dir = TestPaths.NewTempDir();
        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "sdedit", option, value, "--out", dir);
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Theory]
    [InlineData("3/2")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("0/2")]
    public void Bench_BadShard_FailsInOneLine(string shard)
    {
        var (code, _, stderr) = CliHarness.Run("bench", "--model", TestPaths.TinySd1, "--methods", "t2i", "--shard", shard,
            "--out", TestPaths.NewTempDir());
        Assert.Equal(1, code);
        Assert.Contains($"--shard must be K/N with 1 ≤ K ≤ N, e.g. 1/2; got '{shard}'.", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
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
