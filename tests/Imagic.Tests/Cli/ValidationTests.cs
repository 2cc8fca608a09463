using Imagic.Cli;
using Imagic.Editing;
using Imagic.IO;
using Imagic.Tests.Editing;
using TorchSharp;

namespace Imagic.Tests.Cli;

/// <summary>
/// Bad input is refused with one line before anything is created or any step runs (issue 19): each case asserts the
/// exit code, the message and that the folder the command was pointed at is unchanged.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class ValidationTests
{
    /// <summary>Runs the CLI and asserts a one-line refusal containing <paramref name="expected"/> that changed nothing in <paramref name="dir"/>.</summary>
    static string AssertRefused(string dir, string expected, params string[] args)
    {
        var before = FolderSnapshot.Take(dir);

        var (code, _, stderr) = CliHarness.Run(args);

        Assert.True(code == 1, $"exit code {code}: {stderr}");
        var errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ")).ToList();
        Assert.True(errors.Count == 1, stderr);
        Assert.Contains(expected, errors[0]);
        Assert.DoesNotContain("Unexpected error", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal(before, FolderSnapshot.Take(dir));
        return stderr;
    }

    static string[] Edit(string dir, params string[] overrides) =>
        With(new[] { "edit", "--image", Path.Combine(dir, "input.png"), "--prompt", "a dog", "--model", TestPaths.TinySd1,
            "--out", Path.Combine(dir, "run"), "--embedding-steps", "1", "--finetune-steps", "1", "--steps", "1", "--eta", "1" }, overrides);

    static string[] Generate(string dir, params string[] overrides) =>
        With(new[] { "generate", "--model", TestPaths.TinySd1, "--prompt", "a dog", "--steps", "1", "--out", Path.Combine(dir, "x.png") }, overrides);

    /// <summary><paramref name="args"/> with each (option, value) pair of <paramref name="overrides"/> replacing the option's value or appended.</summary>
    internal static string[] With(string[] args, string[] overrides)
    {
        var list = args.ToList();
        for (int i = 0; i + 1 < overrides.Length; i += 2)
        {
            int at = list.IndexOf(overrides[i]);
            if (at >= 0) list[at + 1] = overrides[i + 1];
            else list.AddRange(new[] { overrides[i], overrides[i + 1] });
        }
        return list.ToArray();
    }

    static string NewDirWithImage()
    {
        var dir = TestPaths.NewTempDir();
        EditTestData.WriteInputImage(dir);
        return dir;
    }

    [Theory]
    [InlineData("--eta", "NaN", "--eta must be comma-separated numbers")]
    [InlineData("--embedding-lr", "NaN", "--embedding-lr must be a finite number (got 'NaN')")]
    [InlineData("--finetune-lr", "Infinity", "--finetune-lr must be a finite number (got 'Infinity')")]
    [InlineData("--guidance", "NaN", "--guidance must be a finite number (got 'NaN')")]
    [InlineData("--steps", "5000", "must be between 1 and 1000")]
    [InlineData("--eta", "-0.5", "η must be in [0, 2], got -0.5")]
    [InlineData("--eta", "2.5", "η must be in [0, 2], got 2.5")]
    [InlineData("--eta", "0,5", "If you meant 0.5, write it with a decimal point")]
    [InlineData("--eta", "0.6,0.7,0.6", "--eta lists 0.6 twice")]
    [InlineData("--eta", "0.6,,0.7", "has an empty item")]
    [InlineData("--seed", "9223372036854775807", "runs past the largest seed")]
    [InlineData("--seed", "abc", "--seed must be an integer (got 'abc')")]
    public void Edit_BadOption_IsRefusedBeforeTheRunFolderExists(string option, string value, string expected)
    {
        var dir = NewDirWithImage();

        var stderr = AssertRefused(dir, expected, Edit(dir, option, value, "--seeds", option == "--seed" ? "2" : "1"));

        Assert.DoesNotContain("Run folder", stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public void Edit_BadOption_DoesNotPrintTheRunFolder()
    {
        var dir = NewDirWithImage();

        var (code, stdout, _) = CliHarness.Run(Edit(dir, "--steps", "5000"));

        Assert.Equal(1, code);
        Assert.DoesNotContain("Run folder", stdout);
    }

    [Fact]
    public void ParseError_PrintsOneLineAndAPointerToHelp_NotTheWholeHelp()
    {
        var (code, stdout, stderr) = CliHarness.Run("generate", "--model", TestPaths.TinySd1, "--prompt", "x", "--seed", "abc");

        Assert.Equal(1, code);
        Assert.Equal(new[] { "error: --seed must be an integer (got 'abc').", "Run 'imagic generate --help' for the options." },
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')));
        Assert.DoesNotContain("System.", stderr);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("--eta", "NaN", "--eta must be comma-separated numbers")]
    [InlineData("--steps", "5000", "must be between 1 and 1000")]
    [InlineData("--seeds", "0", "--seeds must be between 1 and 100")]
    public void Sample_BadOption_LeavesNoSweepFolder(string option, string value, string expected)
    {
        var run = TrainedRun();

        AssertRefused(run, expected, "sample", run, option, value);

        Assert.False(Directory.Exists(Path.Combine(run, "sweep-1")));
    }

    [Fact]
    public void Sample_SeedOverflow_IsRefused()
    {
        var run = TrainedRun();
        AssertRefused(run, "runs past the largest seed", "sample", run, "--seed", long.MaxValue.ToString(), "--seeds", "2");
    }

    [Theory]
    [InlineData(new[] { "--guidance", "NaN" }, "--guidance must be a finite number (got 'NaN')")]
    [InlineData(new[] { "--steps", "5000" }, "must be between 1 and 1000")]
    [InlineData(new[] { "--width", "100000", "--height", "100000" }, "more than this machine's")]
    [InlineData(new[] { "--height", "-8" }, "--height must be a positive multiple")]
    [InlineData(new[] { "--out", "/proc/x.png" }, "Cannot write /proc/x.png")]
    public void Generate_BadOption_IsRefusedBeforeSampling(string[] extra, string expected)
    {
        var dir = TestPaths.NewTempDir();

        var stderr = AssertRefused(dir, expected, Generate(dir, extra));

        Assert.DoesNotContain("sampling:", stderr);
    }

    [Fact]
    public void Generate_ExistingOutput_IsRefusedUnlessForced()
    {
        var dir = TestPaths.NewTempDir();
        var output = Path.Combine(dir, "x.png");
        File.WriteAllText(output, "precious");
        var args = Generate(dir);

        AssertRefused(dir, "already exists; pass --force", args);

        var (code, _, stderr) = CliHarness.Run(args.Append("--force").ToArray());
        Assert.True(code == 0, stderr);
        Assert.NotEqual("precious", File.ReadAllText(output));
    }

    [Theory]
    [InlineData("--unet-channels", "96,x,128", "comma-separated whole numbers")]
    [InlineData("--unet-channels", "96,128", "3 values")]
    [InlineData("--vae-from", "no-such-run", "holds no training run")]
    public void Train_BadArchitectureOrVaeSource_IsRefusedBeforeTheWorkFolderExists(string option, string value, string expected)
    {
        var dir = TestPaths.NewTempDir();
        AssertRefused(dir, expected, "train", "--world", "v2", "--tokenizer", Path.Combine(TestPaths.TinySd1, "tokenizer"),
            "--work", Path.Combine(dir, "work"), "--out", Path.Combine(dir, "model"), option, value == "no-such-run" ? Path.Combine(dir, value) : value);
    }

    [Fact]
    public void EvalModel_DetailAblationOnAWorldV1Model_IsRefusedBeforeSampling()
    {
        // World v1 has no unnamed detail to switch off (the bundled model draws world v2).
        var dir = TestPaths.NewTempDir();
        AssertRefused(dir, "needs a world-v2 model", "eval-model", "--model", WorldV1Model(dir), "--samples", "1", "--steps", "1",
            "--detail-ablation", "--out", Path.Combine(dir, "eval"));
    }

    /// <summary>A 32 px world-v1 model: the bundled architecture at small widths, one step of each phase.</summary>
    static string WorldV1Model(string dir)
    {
        string model = Path.Combine(dir, "v1-model");
        var options = Training.ShapesTrainerTests.Tiny(vaeSteps: 1, steps: 1) with
        {
            BatchSize = 2, ScalingSamples = 4, World = Imagic.World.WorldVersion.V1,
        };
        using var pipe = Training.ShapesTrainerTests.Trainer(Path.Combine(dir, "v1-work"), options).Train();
        pipe.Save(model);
        return model;
    }

    [Theory]
    [InlineData("nan", "NaN or infinite")]
    [InlineData("3d", "latents must be [1, 4, H/4, W/4]; got [4, 16, 16]")]
    public void Generate_BadLatents_AreRefusedBeforeSampling(string problem, string expected)
    {
        var dir = TestPaths.NewTempDir();
        var latentsPath = Path.Combine(dir, "latents.safetensors");
        using var latents = problem == "3d" ? torch.zeros(4, 16, 16) : torch.zeros(1, 4, 16, 16);
        if (problem == "nan") latents[0, 1, 2, 3] = torch.tensor(float.NaN);
        SafeTensors.Save(latentsPath, new Dictionary<string, torch.Tensor> { ["latents"] = latents });

        AssertRefused(dir, expected, Generate(dir, "--latents", latentsPath));
    }

    [Fact]
    public void Resume_ManifestStepPastTheStage_IsRefused()
    {
        var dir = NewDirWithImage();
        var run = Path.Combine(dir, "run");
        using (var cts = new CancellationTokenSource())
        {
            cts.Cancel();
            var request = new EditRequest(Path.Combine(dir, "input.png"), "a dog", TestPaths.TinySd1, run,
                EditTestData.FastOptions with { EmbeddingSteps = 50 });
            Assert.ThrowsAny<OperationCanceledException>(() => EditWorkflow.Start(request, null, cts.Token));
        }
        var manifest = Path.Combine(run, EditRun.ManifestFile);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"step\": 0", "\"step\": 9999"));

        AssertRefused(dir, "step 9999 is outside EmbeddingOptimization's range 0 to 50", "edit", "--resume", run);
    }

    [Fact]
    public void GenerateHelp_NamesTheVaeFactor_NotAFixedMultiple()
    {
        var (code, stdout, _) = CliHarness.Run("generate", "--help");

        Assert.Equal(0, code);
        Assert.Contains("a multiple of the model's VAE factor", stdout);
        Assert.DoesNotContain("multiple of 8", stdout);
    }

    [Fact]
    public void Cancellation_AfterTheResumeHint_PrintsNoError()
    {
        var (oldErr, captured) = (Console.Error, new StringWriter());
        Console.SetError(captured);
        try
        {
            int code = CliRunner.Fail(new ExplainedCancellation(new OperationCanceledException()));
            Assert.Equal(130, code);
        }
        finally
        {
            Console.SetError(oldErr);
        }
        Assert.Equal("", captured.ToString());
    }

    static string? _trainedRun;
    static readonly object TrainedRunLock = new();

    /// <summary>One trained run on tiny-sd1 (1 step per stage), shared by the sample tests, which must not change it.</summary>
    static string TrainedRun()
    {
        lock (TrainedRunLock)
        {
            if (_trainedRun is not null) return _trainedRun;
            var dir = NewDirWithImage();
            var run = Path.Combine(dir, "run");
            var (code, _, stderr) = CliHarness.Run(Edit(dir));
            Assert.True(code == 0, stderr);
            return _trainedRun = run;
        }
    }
}

public class EtaListTests
{
    [Fact]
    public void ParseEtas_AboveOne_WarnsAndKeepsTheValue()
    {
        var warnings = new List<string>();

        var etas = OptionChecks.ParseEtas("0.7,1.5", warnings.Add);

        Assert.Equal(new[] { 0.7, 1.5 }, etas);
        Assert.Contains(warnings, w => w.Contains("η 1.5 is above 1"));
    }

    [Fact]
    public void ParseEtas_TwoDigitsWithAComma_WarnsAboutTheDecimalPoint()
    {
        var warnings = new List<string>();

        var etas = OptionChecks.ParseEtas("1,2", warnings.Add);

        Assert.Equal(new[] { 1.0, 2.0 }, etas);
        Assert.Contains(warnings, w => w.Contains("If you meant 1.2"));
    }

    [Fact]
    public void PlainProgress_SaysTimeLeft_NotEta()
    {
        var (oldErr, captured) = (Console.Error, new StringWriter());
        Console.SetError(captured);
        try
        {
            var progress = new ConsoleProgress.PlainProgress();
            progress.Report(new Imagic.Pipelines.StepProgress("sampling", 1, 2));
            progress.Report(new Imagic.Pipelines.StepProgress("sampling", 2, 2));
        }
        finally
        {
            Console.SetError(oldErr);
        }
        Assert.Contains("sampling: 2/2 (0s left)", captured.ToString());
        Assert.DoesNotContain("eta", captured.ToString());
    }

    [Fact]
    public void PlainProgress_ResumedStage_EstimatesFromStepsDoneSinceItsFirstReport()
    {
        var (oldErr, captured) = (Console.Error, new StringWriter());
        var clock = new ManualClock();
        Console.SetError(captured);
        try
        {
            var progress = new ConsoleProgress.PlainProgress(clock);
            progress.Report(new Imagic.Pipelines.StepProgress("train VAE", 501, 2000, 0.01));
            clock.Advance(TimeSpan.FromSeconds(400));
            progress.Report(new Imagic.Pipelines.StepProgress("train VAE", 701, 2000, 0.01));
        }
        finally
        {
            Console.SetError(oldErr);
        }
        var lines = captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();
        // No rate yet at the first report of a resumed stage: no estimate rather than "0s left".
        Assert.Equal("train VAE: 501/2000 loss 0.0100", lines[0]);
        // 200 steps in 400 s, 1299 left: 2598 s (spreading the 400 s over all 701 steps would say 741 s).
        Assert.Equal("train VAE: 701/2000 loss 0.0100 (2598s left)", lines[1]);
    }

    sealed class ManualClock : TimeProvider
    {
        long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
