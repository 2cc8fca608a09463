using System.Globalization;
using Imagic.IO;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Training;

public class ShapesTrainerTests
{
    static string Tokenizer => Path.Combine(TestPaths.TinySd1, "tokenizer");

    internal static TrainingOptions Tiny(int vaeSteps, int steps) => new()
    {
        VaeSteps = vaeSteps,
        Steps = steps,
        BatchSize = 4,
        WarmupSteps = 1,
        CheckpointEvery = 5,
        LearningRate = 1e-3,
        ScalingSamples = 8,
    };

    /// <summary>The bundled architecture at a fraction of its widths, so a step takes milliseconds.</summary>
    static ShapesArchitecture Small => ShapesModelConfigs.Default with
    {
        Vae = ShapesModelConfigs.Vae() with { BlockOutChannels = new[] { 8, 16 }, NormNumGroups = 4 },
        TextEncoder = ShapesModelConfigs.TextEncoder() with { HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2 },
        UNet = ShapesModelConfigs.UNet() with { BlockOutChannels = new[] { 16, 32, 32 }, CrossAttentionDim = 16, AttentionHeadDim = 2, NormNumGroups = 8 },
    };

    internal static ShapesTrainer Trainer(string work, TrainingOptions options) => new(work, Tokenizer, options, Small);

    static double[] Losses(string work, string phase) => File.ReadAllLines(Path.Combine(work, "loss.csv")).Skip(1)
        .Select(l => l.Split(',')).Where(f => f[0] == phase).Select(f => double.Parse(f[2], CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Train_FewSteps_LowersTheLossOfBothPhases()
    {
        var work = TestPaths.NewTempDir();
        using var pipe = Trainer(work, Tiny(vaeSteps: 30, steps: 30)).Train();

        var vae = Losses(work, "vae");
        var t2i = Losses(work, "t2i");
        Assert.Equal(30, vae.Length);
        Assert.True(vae[^5..].Average() < vae[..5].Average(), $"VAE loss did not fall: {vae[..5].Average()} → {vae[^5..].Average()}");
        Assert.True(t2i[^5..].Average() < t2i[..5].Average(), $"UNet loss did not fall: {t2i[..5].Average()} → {t2i[^5..].Average()}");
        Assert.NotEqual(1.0, pipe.Vae!.Config.ScalingFactor);
    }

    [Fact]
    public void Train_InterruptedAndResumed_EqualsUninterrupted()
    {
        var options = Tiny(vaeSteps: 5, steps: 12);
        using var straight = Trainer(TestPaths.NewTempDir(), options).Train();

        // Ctrl-C during phase 2, between checkpoints: the trainer saves where it is and stops.
        var work = TestPaths.NewTempDir();
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress(p => { if (p.Stage.StartsWith("train UNet") && p.Step == 7) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer(work, options).Train(progress, cts.Token));
        Assert.Equal(("unet", 7), (Trainer(work, options).ReadState()!.Phase, Trainer(work, options).ReadState()!.Step));
        using var resumed = Trainer(work, options).Train();

        var a = straight.UNet.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in resumed.UNet.named_parameters())
            Assert.True(Tensors.Identical(a[name], p), $"{name} differs after resuming");
    }

    [Fact]
    public void TrainedPipeline_SavesAsDiffusersFolder_ThatLoadsBack()
    {
        var work = TestPaths.NewTempDir();
        using var pipe = Trainer(work, Tiny(vaeSteps: 2, steps: 2)).Train();
        var model = Path.Combine(work, "model");

        pipe.Save(model, torch.ScalarType.Float16);
        using var loaded = Imagic.Pipelines.StableDiffusionPipeline.Load(model);

        Assert.Equal(32, loaded.DefaultResolution);
        Assert.Equal(16, loaded.UNet.Config.BlockOutChannels[0]);
        Assert.Equal(pipe.Vae!.Config.ScalingFactor, loaded.Vae!.Config.ScalingFactor, 12);
        using var file = SafeTensorsFile.Open(Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors"));
        Assert.All(file.Entries.Values, e => Assert.Equal(SafeTensorsDType.F16, e.DType));
    }

    /// <summary>World v2: 64-px scenes through the 4× VAE to the same 16×16 latents, so the UNet is unchanged.</summary>
    [Fact]
    public void TrainWorldV2_Gives64PixelModel_WithTheUNetAt16x16()
    {
        var work = TestPaths.NewTempDir();
        var smallV2 = Small with { Vae = ShapesModelConfigs.VaeV2() with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 } };
        var options = Tiny(vaeSteps: 1, steps: 1) with { World = Imagic.World.WorldVersion.V2, BatchSize = 2, ScalingSamples = 2 };

        using var pipe = new ShapesTrainer(work, Tokenizer, options, smallV2).Train();

        Assert.Equal(64, pipe.DefaultResolution);
        Assert.Equal(4, pipe.VaeScaleFactor);
        Assert.Equal(16, pipe.UNet.Config.SampleSize);
        Assert.Equal(ShapesModelConfigs.UNet().BlockOutChannels, ShapesModelConfigs.V2.UNet.BlockOutChannels);
        Assert.Throws<ImagicException>(() => new ShapesTrainer(TestPaths.NewTempDir(), Tokenizer, options, Small));
    }

    [Fact]
    public void RandomCrops_AreWindowsAtLatentCellOffsets_DrawnFromTheStep()
    {
        var images = TensorExtensions.Arange(2 * 3 * 64 * 64, torch.ScalarType.Float32).reshape(2, 3, 64, 64);

        var crops = ShapesTrainer.RandomCrops(images, crop: 32, factor: 4, seed: 0, step: 7);

        Assert.Equal(new long[] { 2, 3, 32, 32 }, crops.shape);
        var offsets = new HashSet<(long, long)>();
        for (int i = 0; i < 2; i++)
        {
            // Values are indices, so the crop's first value names its corner.
            long corner = crops[i, 0, 0, 0].item<float>() is var v ? (long)v - i * 3 * 64 * 64 : 0;
            long y = corner / 64, x = corner % 64;
            Assert.True(y % 4 == 0 && x % 4 == 0 && y <= 32 && x <= 32, $"corner ({y}, {x})");
            Assert.True(Tensors.Identical(images[i, .., (int)y..(int)(y + 32), (int)x..(int)(x + 32)], crops[i]));
            offsets.Add((y, x));
        }
        Assert.True(Tensors.Identical(crops, ShapesTrainer.RandomCrops(images, 32, 4, 0, 7)), "not reproducible");
        var elsewhere = Enumerable.Range(0, 20).Select(step => ShapesTrainer.RandomCrops(images, 32, 4, 0, step)[0, 0, 0, 0].item<float>()).Distinct().Count();
        Assert.True(elsewhere > 5, $"only {elsewhere} distinct corners over 20 steps");
        // Images no larger than the crop (world v1 at 32 px) are used whole, so v1's VAE phase is unchanged.
        var small = images[.., .., ..32, ..32];
        Assert.Same(small, ShapesTrainer.RandomCrops(small, 32, 2, 0, 7));
    }

    [Fact]
    public void VaeCrop_NotAMultipleOfTheVaeFactor_IsRefusedBeforeTraining()
    {
        var v2 = Small with { Vae = ShapesModelConfigs.VaeV2() with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 } };
        var options = Tiny(1, 1) with { World = Imagic.World.WorldVersion.V2, VaeCrop = 30 };

        var error = Assert.Throws<ImagicException>(() => new ShapesTrainer(TestPaths.NewTempDir(), Tokenizer, options, v2));

        Assert.Contains("--vae-crop", error.Message);
        Assert.Throws<ImagicException>(() => (options with { VaeCrop = 0 }).Validate());
    }

    [Fact]
    public void UNetChannels_BuildTheUNetThatWide_AndAResumeMustKeepThem()
    {
        // Given a run with wider UNet blocks than the architecture's 16, 32, 32
        var work = TestPaths.NewTempDir();
        var options = Tiny(vaeSteps: 1, steps: 2) with { UNetChannels = [24, 32, 40] };
        using (var pipe = Trainer(work, options).Train())
            Assert.Equal([24, 32, 40], pipe.UNet.Config.BlockOutChannels);

        // Then resuming it with other channels, or another world, is refused before anything is loaded
        var narrower = Assert.Throws<ImagicException>(() => Trainer(work, options with { UNetChannels = null }));
        Assert.Contains("--unet-channels 24,32,40", narrower.Message);
        var otherWorld = Assert.Throws<ImagicException>(() =>
            new ShapesTrainer(work, Tokenizer, options with { World = Imagic.World.WorldVersion.V2, UNetChannels = null }));
        Assert.Contains("--world v1", otherWorld.Message);
        // and channels that do not fit the blocks or the GroupNorm groups are refused at once
        Assert.Contains("3 values", Assert.Throws<ImagicException>(() => Trainer(TestPaths.NewTempDir(), options with { UNetChannels = [24, 32] })).Message);
        Assert.Contains("8 GroupNorm groups", Assert.Throws<ImagicException>(() => Trainer(TestPaths.NewTempDir(), options with { UNetChannels = [20, 32, 40] })).Message);
        Assert.Throws<ImagicException>(() => (options with { UNetChannels = [0, 32, 40] }).Validate());
    }

    [Fact]
    public void StartFromVae_SkipsTheVaePhase_WithTheOtherRunsVaeAndScale()
    {
        // Given a run whose VAE phase is done
        var first = TestPaths.NewTempDir();
        using var done = Trainer(first, Tiny(vaeSteps: 3, steps: 1)).Train();

        // When a new work folder starts from it with other UNet channels
        var second = TestPaths.NewTempDir();
        var trainer = Trainer(second, Tiny(vaeSteps: 3, steps: 2) with { UNetChannels = [24, 32, 32] });
        trainer.StartFromVae(first);
        using var pipe = trainer.Train();

        // Then it trained no VAE step, and its VAE and scaling factor are the first run's
        Assert.Empty(Losses(second, "vae"));
        Assert.Equal(2, Losses(second, "t2i").Length);
        Assert.Equal(done.Vae!.Config.ScalingFactor, pipe.Vae!.Config.ScalingFactor);
        var theirs = done.Vae.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(pipe.Vae.named_parameters(), p => Assert.True(Tensors.Identical(theirs[p.name], p.parameter), p.name));

        // and a folder that holds a run, or a source without a finished VAE, is refused
        Assert.Contains("already holds a run", Assert.Throws<ImagicException>(() => trainer.StartFromVae(first)).Message);
        var unfinished = TestPaths.NewTempDir();
        using var cts = new CancellationTokenSource();
        var stopEarly = new InlineProgress(p => { if (p.Stage.StartsWith("train VAE") && p.Step == 1) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer(unfinished, Tiny(vaeSteps: 6, steps: 1) with { CheckpointEvery = 1 }).Train(stopEarly, cts.Token));
        Assert.Contains("not finished", Assert.Throws<ImagicException>(() =>
            ShapesTrainer.CheckVaeSource(unfinished, TestPaths.NewTempDir(), Imagic.World.WorldVersion.V1)).Message);
    }

    sealed class InlineProgress(Action<Imagic.Pipelines.StepProgress> report) : IProgress<Imagic.Pipelines.StepProgress>
    {
        public void Report(Imagic.Pipelines.StepProgress value) => report(value);
    }
}
