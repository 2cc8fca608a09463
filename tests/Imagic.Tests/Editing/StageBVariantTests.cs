using Imagic.Editing;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Editing;

/// <summary>Stage B's memory options: gradient checkpointing (same result) and the LoRA variant (a different, cheaper method).</summary>
public class StageBVariantTests
{
    static ImagicOptions LoraOptions => EditTestData.FastOptions with
    {
        FinetuneMethod = FinetuneMethod.Lora,
        LoraRank = 2,
        LoraLearningRate = 1e-2,
    };

    static EditRequest Request(string dir, ImagicOptions options, string run = "run") => new(
        EditTestData.WriteInputImage(dir, "photo.png"), "a photo of a dog standing", TestPaths.TinySd1,
        Path.Combine(dir, run), options);

    static (StableDiffusionPipeline Pipe, EditSession Session) Train(ImagicOptions options)
    {
        var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var editor = new ImagicEditor(pipe, options);
        var input = ImageTensors.ToTensor(ImageIO.Load(EditTestData.WriteInputImage(TestPaths.NewTempDir())));
        var session = editor.Start(input, "a photo of a dog standing");
        editor.Train(session);
        return (pipe, session);
    }

    /// <summary>The UNet's prediction on fixed inputs: what the fine-tuned model computes.</summary>
    static Tensor Predict(StableDiffusionPipeline pipe, EditSession session)
    {
        using var _ = torch.no_grad();
        using var g = new Generator(31, torch.CPU);
        var noisy = torch.randn(session.Latents.shape, generator: g);
        return pipe.UNet.Forward(noisy, torch.tensor(400L), session.OptimizedEmbedding);
    }

    [Fact]
    public void GradientCheckpointing_GivesTheSameEmbeddingLossesAndFineTunedModelAsAPlainEdit()
    {
        var (plainPipe, plain) = Train(EditTestData.FastOptions);
        var (checkpointedPipe, checkpointed) = Train(EditTestData.FastOptions with { GradientCheckpointing = true });
        using (plainPipe)
        using (checkpointedPipe)
        using (plain)
        using (checkpointed)
        {
            Assert.True(Tensors.Identical(plain.OptimizedEmbedding, checkpointed.OptimizedEmbedding));
            for (int i = 0; i < plain.FineTuneLosses.Count; i++)
                Assert.Equal(plain.FineTuneLosses[i], checkpointed.FineTuneLosses[i], 6);
            // Compared as functions, not weight by weight: gradients agree to ~1e-9 (see GradientCheckpointTests),
            // but a bias followed by a GroupNorm with one channel per group (tiny-sd1's 32-channel blocks) has an
            // exact gradient of zero, and Adam scales that gradient's rounding noise up to a full lr-sized step.
            // Those weights then differ by up to ~lr while, being normalised away, they change no output.
            Reference.AssertClose(Predict(plainPipe, plain), Predict(checkpointedPipe, checkpointed), 1e-5, "fine-tuned UNet output");
            Assert.False(checkpointedPipe.UNet.UseGradientCheckpointing);
        }
    }

    [Fact]
    public void LoraEdit_ThroughTheWorkflow_SavesAPlainUNet_AndSampleFromRunReproducesTheImages()
    {
        var dir = TestPaths.NewTempDir();

        var (run, sweep) = EditWorkflow.Start(Request(dir, LoraOptions));

        var manifest = run.ReadManifest();
        Assert.Equal(FinetuneMethod.Lora, manifest.Options.FinetuneMethod);
        Assert.Contains("not the method of the paper", File.ReadAllText(run.PathOf("edit.json")));
        Assert.Equal(13, File.ReadAllLines(run.PathOf("loss_stage_b.csv")).Length);
        // The saved weights are a whole plain UNet (LoRA merged), which strict loading accepts as is.
        using (var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1))
        using (var file = SafeTensorsFile.Open(run.PathOf("unet_finetuned.safetensors")))
        {
            Assert.Equal(pipe.UNet.named_parameters().Count(), file.Entries.Count);
            var attentionQ = pipe.UNet.down_blocks[0].attentions![0].transformer_blocks[0].attn1.to_q.weight!.clone();
            var convIn = pipe.UNet.conv_in.weight!.clone();
            StateDictLoader.Load(pipe.UNet, file, componentName: "fine-tuned unet");
            Assert.False(Tensors.Identical(attentionQ, pipe.UNet.down_blocks[0].attentions![0].transformer_blocks[0].attn1.to_q.weight!));
            Assert.True(Tensors.Identical(convIn, pipe.UNet.conv_in.weight!), "LoRA stage B changed a non-attention weight");
        }

        var again = EditWorkflow.SampleFromRun(run.Dir, new[] { 0.0, 1.0 }, seedCount: 1);

        for (int i = 0; i < sweep.ImagePaths.Count; i++)
            Assert.Equal(File.ReadAllBytes(sweep.ImagePaths[i]), File.ReadAllBytes(again.ImagePaths[i]));
    }

    [Fact]
    public void LoraEdit_InterruptedDuringStageB_ThenResumed_EqualsUninterrupted()
    {
        var dir = TestPaths.NewTempDir();
        var (straight, _) = EditWorkflow.Start(Request(dir, LoraOptions, "straight"));

        var interrupted = Request(dir, LoraOptions, "interrupted");
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress(p => { if (p.Stage == "stage B" && p.Step == 7) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => EditWorkflow.Start(interrupted, progress, cts.Token));
        using (var state = SafeTensorsFile.Open(Path.Combine(interrupted.OutDir, "checkpoint", "state.safetensors")))
        {
            // The base weights are frozen under LoRA: the adapters are the whole trained state.
            Assert.Contains(state.Entries.Keys, k => k.StartsWith("lora.", StringComparison.Ordinal));
            Assert.DoesNotContain(state.Entries.Keys, k => k.StartsWith("unet.", StringComparison.Ordinal));
        }

        var (resumed, _) = EditWorkflow.Resume(interrupted.OutDir);

        foreach (var file in new[] { "e_opt.safetensors", "unet_finetuned.safetensors", "samples/eta_1.00_seed_7.png", "loss_stage_b.csv" })
            Assert.True(File.ReadAllBytes(straight.PathOf(file)).SequenceEqual(File.ReadAllBytes(resumed.PathOf(file))), $"{file} differs");
    }

    [Fact]
    public void Options_StageBSettings_RoundTripThroughJsonInSnakeCase()
    {
        var options = LoraOptions with { LoraAlpha = 8, GradientCheckpointing = true };

        var json = options.ToJson();
        var back = ImagicOptions.FromJson(json);

        Assert.Contains("\"finetune_method\": \"lora\"", json);
        Assert.Contains("\"lora_rank\": 2", json);
        Assert.Contains("\"gradient_checkpointing\": true", json);
        Assert.Equal((FinetuneMethod.Lora, 2, 8.0, 1e-2, true),
            (back.FinetuneMethod, back.LoraRank, back.LoraAlpha!.Value, back.LoraLearningRate, back.GradientCheckpointing));
        // A run folder written before these options existed reads as the paper's method.
        var old = ImagicOptions.FromJson("{\"finetune_steps\": 3}");
        Assert.Equal((FinetuneMethod.Full, 4, false), (old.FinetuneMethod, old.LoraRank, old.GradientCheckpointing));
        Assert.Equal(4.0, old.FineTuneSettings.LoraAlpha);
    }

    [Fact]
    public void Options_BadLoraRank_FailsClearly()
    {
        var e = Assert.Throws<ImagicException>(() => (LoraOptions with { LoraRank = 0 }).Validate());
        Assert.Contains("LoRA rank", e.Message);
    }

    sealed class InlineProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }

    [Fact]
    public void DecoderFineTuning_ChangesEveryDecoderWeightAndNoOther()
    {
        // Given the tiny model's weights before training
        using var reference = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var before = reference.UNet.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

        // When stage B fine-tunes the decoder half only
        var (pipe, session) = Train(EditTestData.FastOptions with { FinetuneMethod = FinetuneMethod.Decoder });
        using (pipe)
        using (session)
        {
            // Then every weight outside the decoder is bitwise the pretrained one, nearly every decoder weight moved (a bias
            // that a GroupNorm normalises away has no gradient), and the UNet is frozen again
            var decoder = pipe.UNet.ParametersOf(UNetHalf.Decoder).Select(p => p.Name).ToHashSet();
            int moved = 0;
            foreach (var (name, p) in pipe.UNet.named_parameters())
            {
                bool same = Tensors.Identical(p, before[name]);
                if (decoder.Contains(name)) moved += same ? 0 : 1;
                else Assert.True(same, $"{name} is outside the decoder but changed");
                Assert.False(p.requires_grad);
            }
            Assert.True(moved >= 0.9 * decoder.Count, $"only {moved} of {decoder.Count} decoder weights moved");
        }
    }
}
