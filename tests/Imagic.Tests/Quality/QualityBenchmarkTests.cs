using Imagic.Editing;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Quality;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Quality;

public class QualityBenchmarkTests
{
    static BenchRequest Request(string dir, BenchSettings? settings = null, int cases = 1) =>
        new(EditSuite.Shapes(casesPerCategory: 1).Take(cases), EditMethod.AllNames, settings ?? QualityTestData.Fast, dir, "test");

    [Fact]
    public void Run_OneCaseEveryMethod_WritesResultsReportsAndImages()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);

        var outputs = QualityBenchmark.Run(pipe, Request(dir));

        var results = BenchResults.FromJson(File.ReadAllText(outputs.ResultsPath));
        Assert.Equal("shapes-v1", results.Suite);
        Assert.Equal(64, results.Resolution);
        Assert.Equal(EditMethod.AllNames, results.Results.Select(r => r.Method));
        Assert.Equal([2, 2, 2, 1], results.Results.Select(r => r.Points.Count));
        Assert.All(results.Results.SelectMany(r => r.Points), p => Assert.True(File.Exists(Path.Combine(dir, p.Image)), p.Image));
        Assert.True(File.Exists(Path.Combine(dir, results.Cases[0].Input)));
        Assert.True(File.Exists(Path.Combine(dir, results.Cases[0].GroundTruth)));
        // one "all" row and one category row per (method, point)
        Assert.Equal(2 * 7, results.Summary.Count);
        var markdown = File.ReadAllText(outputs.SummaryPath);
        Assert.Contains("| imagic | η=1.0 |", markdown);
        Assert.Contains("## Each method at its best setting", markdown);
        Assert.Contains("| sdedit | SSIM to the input |", markdown);
        // The one case lands in the column of its input's object count; the other column is empty.
        int objects = EditSuite.Shapes(casesPerCategory: 1).Cases[0].Source.Objects.Count;
        Assert.Equal(objects, results.Cases[0].Objects);
        Assert.Matches(objects == 1 ? @"\| t2i \| [^|]+ \| [^|]+ \(1\) \| – \|" : @"\| t2i \| [^|]+ \| – \| [^|]+ \(1\) \|", markdown);
        Assert.Contains($"| 000-color | Color → ", markdown);
        foreach (var png in new[] { outputs.ChartPath, outputs.InputChartPath, outputs.ExamplesPath })
            Assert.True(new FileInfo(png).Length > 1000, png);
    }

    [Fact]
    public void Run_OnTheBundledModelsArchitecture_Scores32PixelOutputs()
    {
        // Given the shapes model's architecture (32×32 images, 16×16×4 latents) with random weights
        torch.manual_seed(0);
        using var pipe = StableDiffusionPipeline.Create(Path.Combine(TestPaths.TinySd1, "tokenizer"),
            new ClipTextModel(ShapesModelConfigs.TextEncoder()), new UNet2DConditionModel(ShapesModelConfigs.UNet()),
            new AutoencoderKL(ShapesModelConfigs.Vae()), ShapesModelConfigs.Scheduler());
        pipe.SetTrainable(false);
        var dir = TestPaths.NewTempDir();

        // When one case runs with every method
        var outputs = QualityBenchmark.Run(pipe, Request(dir));

        // Then every output is a 32×32 image with finite scores
        Assert.Equal(32, outputs.Results.Resolution);
        Assert.Equal("in-memory", outputs.Results.ModelFingerprint);
        var image = Imagic.Imaging.ImageIO.Load(Path.Combine(dir, outputs.Results.Results[0].Points[0].Image));
        Assert.Equal((32, 32), (image.Width, image.Height));
        Assert.All(outputs.Results.Results.SelectMany(r => r.Points), p => Assert.True(double.IsFinite(p.Score.Ssim) && double.IsFinite(p.Score.Psnr)));
    }

    [Fact]
    public void Run_AgainIntoTheSameFolder_ReusesEveryCachedResult()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var first = QualityBenchmark.Run(pipe, Request(dir));

        var log = new List<string>();
        var second = QualityBenchmark.Run(pipe, Request(dir), log: log.Add);

        Assert.All(log, line => Assert.EndsWith("cached", line));
        Assert.Equal(4, log.Count);
        Assert.Equal(first.Results.Results.Select(r => r.Seconds), second.Results.Results.Select(r => r.Seconds));
    }

    [Fact]
    public void Run_WithAChangedSweep_RecomputesOnlyThatMethod()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        QualityBenchmark.Run(pipe, Request(dir));

        var log = new List<string>();
        QualityBenchmark.Run(pipe, Request(dir, QualityTestData.Fast with { Strengths = [0.7] }), log: log.Add);

        Assert.Equal(["imagic", "inversion", "t2i"], log.Where(l => l.EndsWith("cached")).Select(l => l.Split(' ')[1].TrimEnd(':')));
        Assert.Contains(log, l => l.Contains("sdedit") && !l.EndsWith("cached"));
    }

    [Fact]
    public void Run_KeepTrained_AChangedEtaListSamplesTheKeptStateWithoutTraining_AndAChangedStageBRetrains()
    {
        // Given a benchmark run of Imagic that keeps its trained state
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var suite = EditSuite.Shapes(casesPerCategory: 1).Take(1);
        BenchRequest ImagicOnly(BenchSettings settings) => new(suite, ["imagic"], settings, dir, "test", KeepTrained: true);
        var first = QualityBenchmark.Run(pipe, ImagicOnly(QualityTestData.Fast));
        string caseDir = Path.Combine(dir, "cases", first.Results.Cases[0].Id);
        Assert.True(File.Exists(Path.Combine(caseDir, "imagic-trained.safetensors")));
        var firstAtOne = Imagic.Imaging.ImageIO.Load(Path.Combine(dir, first.Results.Results[0].Points[1].Image));

        // When only stage C's η list changes
        var trainingSteps = new List<StepProgress>();
        var second = QualityBenchmark.Run(pipe, ImagicOnly(QualityTestData.Fast with { Etas = [1, 0.5] }),
            new InlineProgress(p => { if (p.Loss is not null) trainingSteps.Add(p); }));

        // Then no training step runs, the result and the report say so, and η = 1 gives the first run's image exactly
        Assert.Empty(trainingSteps);
        Assert.False(first.Results.Results[0].TrainingReused);
        Assert.True(second.Results.Results[0].TrainingReused);
        Assert.All(second.Results.Summary, row => Assert.True(row.SecondsWithoutTraining));
        Assert.Matches(@"\| imagic \| η=1\.0 \|.*\* \|", File.ReadAllText(second.SummaryPath));
        var secondAtOne = Imagic.Imaging.ImageIO.Load(Path.Combine(dir, second.Results.Results[0].Points[0].Image));
        Assert.Equal(firstAtOne.Pixels, secondAtOne.Pixels);

        // When the rest of stage C changes (guidance, steps, the start), the kept state still serves
        var fast = QualityTestData.Fast;
        QualityBenchmark.Run(pipe, ImagicOnly(fast with
        {
            GuidanceScale = 2, SamplingSteps = 2, Imagic = fast.Imagic with { SamplingStart = SamplingStart.Inversion, DdimEta = 0.5 },
        }), new InlineProgress(p => { if (p.Loss is not null) trainingSteps.Add(p); }));
        Assert.Empty(trainingSteps);

        // When a stage B setting changes, the kept state no longer matches and both stages train again
        QualityBenchmark.Run(pipe, ImagicOnly(fast with { Imagic = fast.Imagic with { FinetuneLearningRate = fast.Imagic.FinetuneLearningRate * 2 } }),
            new InlineProgress(p => { if (p.Loss is not null) trainingSteps.Add(p); }));
        Assert.Equal(fast.Imagic.EmbeddingSteps + fast.Imagic.FinetuneSteps, trainingSteps.Count);

        // When the kept file is damaged, the case trains again instead of failing
        string kept = Path.Combine(caseDir, "imagic-trained.safetensors");
        File.WriteAllBytes(kept, File.ReadAllBytes(kept)[..4096]);
        trainingSteps.Clear();
        var again = QualityBenchmark.Run(pipe, ImagicOnly(fast with { Etas = [0.25] }),
            new InlineProgress(p => { if (p.Loss is not null) trainingSteps.Add(p); }));
        Assert.Equal(fast.Imagic.EmbeddingSteps + fast.Imagic.FinetuneSteps, trainingSteps.Count);
        Assert.Single(again.Results.Results[0].Points);
    }

    sealed class InlineProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }

    [Fact]
    public void Run_ShapesV2Case_ReportsTheUneditedRegionAndItsChart()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var request = new BenchRequest(EditSuite.ShapesV2(casesPerCategory: 1).Take(1), ["sdedit", "t2i"], QualityTestData.Fast, dir, "test");

        var outputs = QualityBenchmark.Run(pipe, request);

        var results = BenchResults.FromJson(File.ReadAllText(outputs.ResultsPath));
        Assert.Equal("shapes-v2", results.Suite);
        Assert.All(results.Results.SelectMany(r => r.Points), p => Assert.InRange(p.Score.UneditedPsnr!.Value, 0, EditMetrics.MaxPsnr));
        Assert.All(results.Summary, r => Assert.NotNull(r.UneditedSsim));
        Assert.Contains("## What the edit must leave alone (world v2)", File.ReadAllText(outputs.SummaryPath));
        Assert.True(new FileInfo(outputs.UneditedChartPath!).Length > 1000);
    }

    [Fact]
    public void Run_ShapesV1_WritesNoUneditedRegionMetrics()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);

        var outputs = QualityBenchmark.Run(pipe, Request(dir) with { Methods = ["t2i"] });

        Assert.Null(outputs.UneditedChartPath);
        Assert.DoesNotContain("Unedited", File.ReadAllText(outputs.ResultsPath));
    }

    [Fact]
    public void Run_UnknownMethod_FailsBeforeDoingAnyWork()
    {
        var dir = TestPaths.NewTempDir();
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var request = Request(dir) with { Methods = ["imagic", "magic"] };

        var e = Assert.Throws<ImagicException>(() => QualityBenchmark.Run(pipe, request));
        Assert.Contains("magic", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }
}
