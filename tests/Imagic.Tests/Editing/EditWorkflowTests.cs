using Imagic.Editing;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Editing;

/// <summary>The edit run folder: what it holds, resuming, re-sampling, and bad inputs.</summary>
public class EditWorkflowTests
{
    static EditRequest Request(string dir, ImagicOptions? options = null) => new(
        EditTestData.WriteInputImage(dir, "photo.png"), "a photo of a dog standing", TestPaths.TinySd1,
        Path.Combine(dir, "run"), options ?? EditTestData.FastOptions);

    [Fact]
    public void StageCOverrides_NoiseFromEta_KeepsTheRunsWhenNotGiven_ReplacesIt_OrTurnsItOffWhenNegative()
    {
        var run = new ImagicOptions { SamplingStart = SamplingStart.Inversion, NoiseFromEta = 1.0 };

        Assert.Equal(1.0, new StageCOverrides().ApplyTo(run).NoiseFromEta);
        Assert.Equal(0.8, new StageCOverrides { NoiseFromEta = 0.8 }.ApplyTo(run).NoiseFromEta);
        Assert.Null(new StageCOverrides { NoiseFromEta = -1 }.ApplyTo(run).NoiseFromEta);
        Assert.Equal(SamplingStart.Inversion, new StageCOverrides { NoiseFromEta = -1 }.ApplyTo(run).SamplingStart);
    }

    [Fact]
    public void StageCOverrides_GuidanceRamp_FollowsTheSameRule()
    {
        var run = new ImagicOptions { GuidanceRamp = 1.0 };
        Assert.Equal(1.0, new StageCOverrides().ApplyTo(run).GuidanceRamp);
        Assert.Equal(0.6, new StageCOverrides { GuidanceRamp = 0.6 }.ApplyTo(run).GuidanceRamp);
        Assert.Null(new StageCOverrides { GuidanceRamp = -1 }.ApplyTo(run).GuidanceRamp);
        Assert.Equal(0.6, new StageCOverrides { GuidanceRamp = 0.6 }.ApplyTo(new ImagicOptions()).GuidanceRamp);
    }

    [Fact]
    public void StageCOverrides_ShareAttention_KeepsTheRunsWhenNotGiven_OrReplacesIt()
    {
        var run = new ImagicOptions { ShareAttention = 0.4 };
        Assert.Equal(0.4, new StageCOverrides().ApplyTo(run).ShareAttention);
        Assert.Equal(0.0, new StageCOverrides { ShareAttention = 0 }.ApplyTo(run).ShareAttention);
        Assert.Equal(1.0, new StageCOverrides { ShareAttention = 1 }.ApplyTo(run).ShareAttention);
    }

    [Fact]
    public void StageCOverrides_GuidanceNegative_KeepsTheRunsWhenNotGiven_OrReplacesIt()
    {
        var run = new ImagicOptions { GuidanceNegative = GuidanceNegative.Reconstruction };
        Assert.Equal(GuidanceNegative.Reconstruction, new StageCOverrides().ApplyTo(run).GuidanceNegative);
        Assert.Equal(GuidanceNegative.Empty, new StageCOverrides { GuidanceNegative = GuidanceNegative.Empty }.ApplyTo(run).GuidanceNegative);
    }

    [Fact]
    public void Start_WritesEveryArtifactOfTheRun_AndLeavesTheInputUntouched()
    {
        var dir = TestPaths.NewTempDir();
        var request = Request(dir);
        var inputBytes = File.ReadAllBytes(request.ImagePath);

        var warnings = new List<string>();

        var (run, sweep) = EditWorkflow.Start(request, log: warnings.Add);

        foreach (var name in new[] { "edit.json", "input.png", "target.txt", "latents.safetensors", "e_tgt.safetensors",
                     "vae_roundtrip.png", "e_opt.safetensors", "unet_finetuned.safetensors", "loss_stage_a.csv", "loss_stage_b.csv" })
            Assert.True(File.Exists(run.PathOf(name)), $"{name} is missing");
        // The round trip is z₀ decoded, and the user is warned exactly when it is too far from the input.
        using (var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1))
        using (var z0 = SafeTensors.Load(run.PathOf("latents.safetensors"))["latents"])
        using (var decoded = pipe.DecodeLatents(z0))
            Assert.Equal(ImageTensors.ToImage(decoded).Pixels, ImageIO.Load(run.PathOf(EditRun.VaeRoundTripFile)).Pixels);
        double ceiling = ImageDistance.Psnr(ImageIO.Load(run.PathOf(EditRun.VaeRoundTripFile)), ImageIO.Load(run.PathOf("input.png")));
        Assert.Equal(ceiling < VaeCeiling.WarnBelowDb, warnings.Any(w => w.Contains(EditRun.VaeRoundTripFile)));
        Assert.Equal(ceiling, run.ReadManifest().VaeRoundTripPsnr!.Value, 2);
        Assert.False(Directory.Exists(run.PathOf("checkpoint")));
        Assert.Equal(2, sweep.ImagePaths.Count);
        Assert.True(File.Exists(sweep.GridPath));
        Assert.Equal(inputBytes, File.ReadAllBytes(request.ImagePath));
        var manifest = run.ReadManifest();
        Assert.Equal("trained", manifest.Status);
        Assert.Equal(EditTestData.FastOptions.Seed, manifest.Options.Seed);
        Assert.Equal(64, manifest.ModelFingerprint.Length);
        Assert.Equal(13, File.ReadAllLines(run.PathOf("loss_stage_a.csv")).Length);
    }

    [Fact]
    public void InterruptedThenResumed_EqualsUninterrupted()
    {
        var dir = TestPaths.NewTempDir();
        var (straight, _) = EditWorkflow.Start(Request(dir) with { OutDir = Path.Combine(dir, "straight") });

        // Cancel during stage B, after the step-5 checkpoint and before the step-10 one.
        var interruptedRequest = Request(dir) with { OutDir = Path.Combine(dir, "interrupted") };
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress(p => { if (p.Stage == "stage B" && p.Step == 7) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => EditWorkflow.Start(interruptedRequest, progress, cts.Token));
        var manifest = EditRun.Open(interruptedRequest.OutDir).ReadManifest();
        Assert.Equal(("running", "ModelFineTuning", 7), (manifest.Status, manifest.Stage, manifest.Step));

        var (resumed, _) = EditWorkflow.Resume(interruptedRequest.OutDir);

        foreach (var file in new[] { "e_opt.safetensors", "unet_finetuned.safetensors", "samples/eta_1.00_seed_7.png", "loss_stage_b.csv" })
            Assert.True(File.ReadAllBytes(straight.PathOf(file)).SequenceEqual(File.ReadAllBytes(resumed.PathOf(file))), $"{file} differs");
    }

    [Fact]
    public void SampleFromRun_ReloadedRun_GivesTheSameImagesAsInMemory()
    {
        var dir = TestPaths.NewTempDir();
        var (run, sweep) = EditWorkflow.Start(Request(dir));

        var again = EditWorkflow.SampleFromRun(run.Dir, new[] { 0.0, 1.0 }, seedCount: 1);

        Assert.EndsWith("sweep-1", again.Dir);
        for (int i = 0; i < sweep.ImagePaths.Count; i++)
            Assert.Equal(File.ReadAllBytes(sweep.ImagePaths[i]), File.ReadAllBytes(again.ImagePaths[i]));
    }

    [Fact]
    public void SampleFromRun_StartInversion_GivesTheSameImageForEverySeed_AndDiffersFromNoise()
    {
        var dir = TestPaths.NewTempDir();
        var (run, _) = EditWorkflow.Start(Request(dir));

        var inverted = EditWorkflow.SampleFromRun(run.Dir, [0.5], seedCount: 2, overrides: new() { Start = SamplingStart.Inversion });
        var noise = EditWorkflow.SampleFromRun(run.Dir, [0.5], seedCount: 1);

        Assert.Equal(File.ReadAllBytes(inverted.ImagePaths[0]), File.ReadAllBytes(inverted.ImagePaths[1]));
        Assert.NotEqual(File.ReadAllBytes(noise.ImagePaths[0]), File.ReadAllBytes(inverted.ImagePaths[0]));
    }

    [Fact]
    public void Start_NonImageInput_FailsWithoutCreatingTheRun()
    {
        var dir = TestPaths.NewTempDir();
        var notImage = Path.Combine(dir, "notes.png");
        File.WriteAllText(notImage, "this is text, not a picture");
        var request = Request(dir) with { ImagePath = notImage };

        var e = Assert.Throws<ImagicException>(() => EditWorkflow.Start(request));

        Assert.Contains("notes.png", e.Message);
        Assert.False(Directory.Exists(request.OutDir));
    }

    [Fact]
    public void Start_EmptyPrompt_FailsClearly()
    {
        var e = Assert.Throws<ImagicException>(() => EditWorkflow.Start(Request(TestPaths.NewTempDir()) with { TargetText = "" }));
        Assert.Contains("prompt is empty", e.Message);
    }

    [Fact]
    public void Start_OutputFolderHoldingAnotherRun_RefusesToOverwrite()
    {
        var dir = TestPaths.NewTempDir();
        var request = Request(dir);
        Directory.CreateDirectory(request.OutDir);
        File.WriteAllText(Path.Combine(request.OutDir, "keep.txt"), "precious");

        var e = Assert.Throws<ImagicException>(() => EditWorkflow.Start(request));

        Assert.Contains("not empty", e.Message);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(request.OutDir, "keep.txt")));
    }

    [Fact]
    public void Start_UnwritableOutputFolder_FailsClearly()
    {
        var dir = TestPaths.NewTempDir();
        var blocker = Path.Combine(dir, "file");
        File.WriteAllText(blocker, "");
        var e = Assert.Throws<ImagicException>(() => EditWorkflow.Start(Request(dir) with { OutDir = Path.Combine(blocker, "run") }));
        Assert.Contains("output folder", e.Message);
    }

    [Fact]
    public void Resume_WithAnotherModel_FailsClearly()
    {
        var dir = TestPaths.NewTempDir();
        var request = Request(dir);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => EditWorkflow.Start(request, null, cts.Token));

        // Another model: tiny-sd1 with one UNet weight changed.
        var other = Path.Combine(dir, "other-model");
        using (var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1))
        {
            using (torch.no_grad()) pipe.UNet.conv_out.bias!.PlusInPlace(1);
            pipe.Save(other);
        }

        var e = Assert.Throws<ImagicException>(() => EditWorkflow.Resume(request.OutDir, other));
        Assert.Contains("different model", e.Message);
    }

    sealed class InlineProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
