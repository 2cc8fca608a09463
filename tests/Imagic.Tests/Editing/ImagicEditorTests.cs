using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Editing;

/// <summary>The three Imagic stages on tiny-sd1, in memory. Each test loads its own pipeline: stage B changes the UNet.</summary>
public class ImagicEditorTests
{
    static (StableDiffusionPipeline, ImagicEditor, EditSession) Start(ImagicOptions? options = null)
    {
        var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var editor = new ImagicEditor(pipe, options ?? EditTestData.FastOptions);
        var input = ImageTensors.ToTensor(ImageIO.Load(EditTestData.WriteInputImage(TestPaths.NewTempDir())));
        return (pipe, editor, editor.Start(input, "a photo of a dog standing"));
    }

    /// <summary>The denoising loss averaged over a fixed set of (t, ε) draws, so before/after compare like with like.</summary>
    static double FixedLoss(StableDiffusionPipeline pipe, Tensor latents, Tensor context)
    {
        using var _ = torch.no_grad();
        using var generator = new Generator(1234, torch.CPU);
        var ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        double total = 0;
        for (int i = 0; i < 16; i++)
            total += DenoisingLoss.Compute(pipe.UNet, ddpm, latents, context, generator).item<float>();
        return total / 16;
    }

    [Fact]
    public void StageA_OptimizesEmbedding_LowersDenoisingLossAndKeepsModelFrozen()
    {
        var (pipe, editor, session) = Start(EditTestData.FastOptions with { FinetuneSteps = 0 });
        var weightsBefore = pipe.UNet.conv_in.weight!.clone();
        double before = FixedLoss(pipe, session.Latents, session.TargetEmbedding);

        editor.Train(session);

        double after = FixedLoss(pipe, session.Latents, session.OptimizedEmbedding);
        Assert.True(after < before, $"stage A loss {after} is not below {before}");
        Assert.Equal(12, session.EmbeddingLosses.Count);
        Assert.True(Tensors.Identical(pipe.UNet.conv_in.weight!, weightsBefore), "stage A changed the UNet");
        Assert.False(Tensors.Identical(session.OptimizedEmbedding, session.TargetEmbedding));
    }

    [Fact]
    public void StageC_FromInversion_StartsAtTheInputsDdimInversionUnderTheFineTunedModel_WhateverTheSeed()
    {
        // Given a trained edit whose stage C starts from the input's inversion
        var options = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 2, SamplingSteps = 4, SamplingStart = SamplingStart.Inversion };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        editor.Train(session);

        // When two seeds sample the same η list
        using var a = editor.SampleLatents(session, [0, 0.6], sampleSeed: 1);
        using var b = editor.SampleLatents(session, [0, 0.6], sampleSeed: 2);

        // Then they agree, and equal sampling from DdimInversion.Invert of z₀ with e_opt under the fine-tuned UNet
        Assert.True(Tensors.Identical(a, b), "the inversion start depends on the seed");
        using var zT = DdimInversion.Invert(pipe, session.Latents, session.OptimizedEmbedding, options.SamplingSteps);
        using var expected = editor.Sampling.SampleLatents(session.TargetEmbedding, session.OptimizedEmbedding, [0, 0.6], zT);
        Assert.True(Tensors.Identical(expected, a), "stage C did not start from the inversion");
        using var fromNoise = new ImagicEditor(pipe, options with { SamplingStart = SamplingStart.Noise });
        using var c = fromNoise.SampleLatents(session, [0, 0.6], sampleSeed: 1);
        Assert.False(Tensors.Identical(c, a));
    }

    [Fact]
    public void StageC_NoiseFromEta_SamplesSmallEtaFromTheInversionAndLargeEtaFromTheSeedsNoise_InTheListsOrder()
    {
        // Given a trained edit, and editors that start every η from the inversion, every η from noise, or switch at η 0.8
        var options = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 2, SamplingSteps = 3, SamplingStart = SamplingStart.Inversion };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        editor.Train(session);
        using var fromNoise = new ImagicEditor(pipe, options with { SamplingStart = SamplingStart.Noise });
        using var mixed = new ImagicEditor(pipe, options with { NoiseFromEta = 0.8 });

        // When the switching editor samples a list that puts a large η first
        using var both = mixed.SampleLatents(session, [1.0, 0.3, 0.8], sampleSeed: 5);

        // Then η 0.3 is the inversion start's sample and η 0.8 and 1.0 the noise start's, each in its place in the list
        using var inverted = editor.SampleLatents(session, [0.3], sampleSeed: 5);
        using var noised = fromNoise.SampleLatents(session, [1.0, 0.8], sampleSeed: 5);
        Assert.Equal(3, both.shape[0]);
        Assert.True(Tensors.Identical(inverted, both.narrow(0, 1, 1)), "η 0.3 did not start from the inversion");
        Assert.True(Tensors.Identical(noised.narrow(0, 0, 1), both.narrow(0, 0, 1)), "η 1.0 did not start from the noise");
        Assert.True(Tensors.Identical(noised.narrow(0, 1, 1), both.narrow(0, 2, 1)), "η 0.8 did not start from the noise");
        Assert.True(mixed.Options.StartsFromInversion(0.79));
        Assert.False(mixed.Options.StartsFromInversion(0.8));
        Assert.False(fromNoise.Options.StartsFromInversion(0));
    }

    [Fact]
    public void StageC_GuidanceRamp_SamplesEachEtaAtItsOwnScale_UnguidedAtEtaZero()
    {
        // Given a trained edit, and an editor whose guidance 4 ramps from 1 at η = 0 to 4 at η 1
        var options = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 2, SamplingSteps = 3, GuidanceScale = 4 };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        editor.Train(session);
        using var ramped = new ImagicEditor(pipe, options with { GuidanceRamp = 1.0 });

        // When it samples η 0, 0.5 and 1.2 in one batch
        using var all = ramped.SampleLatents(session, [0, 0.5, 1.2], sampleSeed: 3);

        // Then each row is that η sampled alone at its scale, 1, 2.5 and 4 (to float rounding: the batch differs)
        Assert.Equal([1.0, 2.5, 4.0], new[] { 0, 0.5, 1.2 }.Select(ramped.Options.GuidanceAt));
        foreach (var (eta, scale, row) in new[] { (0.0, 1.0, 0), (0.5, 2.5, 1), (1.2, 4.0, 2) })
        {
            using var alone = new ImagicEditor(pipe, options with { GuidanceScale = scale });
            using var expected = alone.SampleLatents(session, [eta], sampleSeed: 3);
            var got = all.narrow(0, row, 1);
            Assert.True(got.allclose(expected, rtol: 1e-4, atol: 1e-4), $"η {eta}: max difference {(got - expected).abs().max().item<float>()}");
        }
        using var unramped = editor.SampleLatents(session, [0], sampleSeed: 3);
        Assert.False(unramped.allclose(all.narrow(0, 0, 1), rtol: 1e-4, atol: 1e-4), "the ramp changed nothing at η = 0");
    }

    [Fact]
    public void StageC_GuidanceAgainstEOpt_IsUnguidedAtEtaZero_AndChangesTheEdit()
    {
        // Given a trained edit sampled at guidance 4 at every η (no ramp), against the empty prompt and against e_opt
        var options = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 2, SamplingSteps = 3, GuidanceScale = 4, GuidanceRamp = null };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        editor.Train(session);
        using var againstEOpt = new ImagicEditor(pipe, options with { GuidanceNegative = GuidanceNegative.Reconstruction });
        using var unguided = new ImagicEditor(pipe, options with { GuidanceScale = 1 });

        // When each samples η = 0 and η = 1
        using var empty = editor.SampleLatents(session, [0, 1], sampleSeed: 5);
        using var eOpt = againstEOpt.SampleLatents(session, [0, 1], sampleSeed: 5);
        using var plain = unguided.SampleLatents(session, [0], sampleSeed: 5);

        // Then against e_opt, η = 0's two branches are one and guidance vanishes (against the empty prompt it does not),
        // while η = 1 is guided away from e_opt instead of the empty prompt
        Assert.True(eOpt.narrow(0, 0, 1).allclose(plain, rtol: 1e-4, atol: 1e-4),
            $"η = 0 differs from the unguided sample by {(eOpt.narrow(0, 0, 1) - plain).abs().max().item<float>()}");
        Assert.False(empty.narrow(0, 0, 1).allclose(plain, rtol: 1e-4, atol: 1e-4), "guidance changed nothing at η = 0");
        Assert.False(eOpt.narrow(0, 1, 1).allclose(empty.narrow(0, 1, 1), rtol: 1e-4, atol: 1e-4), "the negative changed nothing at η = 1");
    }

    [Fact]
    public void StageC_ForgettingTheDecoder_SamplesEtaZeroAsTunedAndEtaOneWithThePretrainedDecoder_AndKeepsTheTunedWeights()
    {
        // Given a trained edit, and an editor made before training that forgets the decoder
        var options = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 3, FinetuneLearningRate = 1e-3, SamplingSteps = 3 };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        using var forgetting = new ImagicEditor(pipe, options with { Forget = UNetHalf.Decoder });
        editor.Train(session);
        var tuned = pipe.UNet.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

        // When it samples η = 0 and η = 1
        using var forgotten = forgetting.SampleLatents(session, [0, 1], sampleSeed: 1);

        // Then η = 0 is the tuned model's sample, η = 1 the sample with the pretrained decoder, and the tuned weights stay
        Assert.All(pipe.UNet.named_parameters(), p => Assert.True(Tensors.Identical(tuned[p.name], p.parameter), p.name));
        using var asTuned = editor.SampleLatents(session, [0], sampleSeed: 1);
        Assert.True(Tensors.Identical(asTuned, forgotten.narrow(0, 0, 1)), "η = 0 did not sample with the fine-tuned UNet");
        using var tunedAtOne = editor.SampleLatents(session, [1], sampleSeed: 1);
        Assert.False(Tensors.Identical(tunedAtOne, forgotten.narrow(0, 1, 1)), "forgetting changed nothing at η = 1");
        using var pretrained = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var pretrainedDecoder = pretrained.UNet.ParametersOf(UNetHalf.Decoder).ToDictionary(p => p.Name, p => p.Param);
        Assert.NotEmpty(pretrainedDecoder);
        using (torch.no_grad())
            foreach (var (name, p) in pipe.UNet.ParametersOf(UNetHalf.Decoder)) p.copy_(pretrainedDecoder[name]);
        using var expected = editor.SampleLatents(session, [1], sampleSeed: 1);
        Assert.True(Tensors.Identical(expected, forgotten.narrow(0, 1, 1)), "η = 1 did not sample with the pretrained decoder");

        // A forgetting that sets in as η² (made while the decoder is the pretrained one, as an editor made before
        // training is) forgets the same at η = 1 and less at η = 0.5
        using var squared = new ImagicEditor(pipe, options with { Forget = UNetHalf.Decoder, ForgetPower = 2 });
        using (torch.no_grad())
            foreach (var (name, p) in pipe.UNet.ParametersOf(UNetHalf.Decoder)) p.copy_(tuned[name]);
        using var bySquare = squared.SampleLatents(session, [0.5, 1], sampleSeed: 1);
        using var linear = forgetting.SampleLatents(session, [0.5], sampleSeed: 1);
        Assert.True(Tensors.Identical(forgotten.narrow(0, 1, 1), bySquare.narrow(0, 1, 1)), "η = 1 differs under forget_power 2");
        Assert.False(Tensors.Identical(linear, bySquare.narrow(0, 0, 1)), "forget_power 2 changed nothing at η = 0.5");
    }

    [Fact]
    public void StageC_SharingSelfAttention_GivesEtaZeroBack_ChangesTheEdit_AndLeavesThePlainAttentionInPlace()
    {
        // Given a trained edit, and an editor that shares η = 0's self-attention over every sampling step
        var options = EditTestData.FastOptions with
        {
            EmbeddingSteps = 2, FinetuneSteps = 2, SamplingSteps = 4, SamplingStart = SamplingStart.Inversion, GuidanceRamp = 1.0,
        };
        var (pipe, editor, session) = Start(options);
        using var _p = pipe;
        using var _e = editor;
        using var _s = session;
        editor.Train(session);
        using var sharing = new ImagicEditor(pipe, options with { ShareAttention = 1.0 });

        // When both sample η = 0 (unguided by the ramp) and η = 1 (guided)
        using var plain = editor.SampleLatents(session, [0, 1], sampleSeed: 2);
        using var shared = sharing.SampleLatents(session, [0, 1], sampleSeed: 2);

        // Then η = 0 replays its own attention and is unchanged, η = 1 attends with η = 0's layout and changes,
        // and afterwards every layer attends plainly again: the plain editor still gives its own samples
        var layers = AttentionSharing.SelfAttentionLayers(pipe.UNet);
        Assert.NotEmpty(layers);
        Assert.All(layers, layer => Assert.Null(layer.Core));
        Assert.True(shared.narrow(0, 0, 1).allclose(plain.narrow(0, 0, 1), rtol: 1e-5, atol: 1e-5),
            $"η = 0 changed by {(shared.narrow(0, 0, 1) - plain.narrow(0, 0, 1)).abs().max().item<float>()}");
        Assert.False(shared.narrow(0, 1, 1).allclose(plain.narrow(0, 1, 1), rtol: 1e-4, atol: 1e-4), "sharing changed nothing at η = 1");
        using var again = editor.SampleLatents(session, [0, 1], sampleSeed: 2);
        Assert.True(Tensors.Identical(plain, again), "the plain editor's samples changed after sharing");
    }

    [Fact]
    public void UNetHalves_AreDisjointAndLeaveTheTimeEmbeddingAndMidBlockToNeither()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);

        var encoder = pipe.UNet.ParametersOf(UNetHalf.Encoder).Select(p => p.Name).ToHashSet();
        var decoder = pipe.UNet.ParametersOf(UNetHalf.Decoder).Select(p => p.Name).ToHashSet();

        Assert.Contains("conv_in.weight", encoder);
        Assert.Contains("conv_out.weight", decoder);
        Assert.Contains(encoder, n => n.StartsWith("down_blocks.", StringComparison.Ordinal));
        Assert.Contains(decoder, n => n.StartsWith("up_blocks.", StringComparison.Ordinal));
        Assert.Empty(encoder.Intersect(decoder));
        Assert.DoesNotContain(encoder.Concat(decoder), n => n.StartsWith("time_embedding.", StringComparison.Ordinal) || n.StartsWith("mid_block.", StringComparison.Ordinal));
        Assert.Empty(pipe.UNet.ParametersOf(UNetHalf.None));
    }

    [Fact]
    public void StageB_FineTunesModel_LowersDenoisingLossWithEmbeddingFrozen()
    {
        var (pipe, editor, session) = Start();
        editor.Train(session);
        // Stage B's effect: compare against a fresh copy of the pretrained model on the same e_opt.
        using var pretrained = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        double before = FixedLoss(pretrained, session.Latents, session.OptimizedEmbedding);
        double after = FixedLoss(pipe, session.Latents, session.OptimizedEmbedding);
        Assert.True(after < before, $"stage B loss {after} is not below {before}");
        Assert.Equal(EditStage.Done, session.Stage);
        Assert.All(pipe.UNet.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void EtaZero_AfterFineTuning_ReconstructsInputBetterThanBefore()
    {
        var options = EditTestData.FastOptions with { FinetuneSteps = 40, FinetuneLearningRate = 2e-3, SamplingSteps = 8 };
        var (pipe, editor, session) = Start(options);
        editor.Train(session);
        using var pretrained = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var pretrainedEditor = new ImagicEditor(pretrained, options);

        // Compared in latent space: tiny-sd1's VAE has random weights, so only the latents carry the input.
        var tuned = editor.SampleLatents(session, [0.0], sampleSeed: 0);
        var untuned = pretrainedEditor.SampleLatents(session, [0.0], sampleSeed: 0);

        double errTuned = (tuned - session.Latents).Squared().mean().item<float>();
        double errUntuned = (untuned - session.Latents).Squared().mean().item<float>();
        Assert.True(errTuned < errUntuned, $"fine-tuned reconstruction error {errTuned} is not below {errUntuned}");
    }

    [Fact]
    public void SameSeed_GivesBitwiseIdenticalEdits()
    {
        var (_, editorA, sessionA) = Start();
        editorA.Train(sessionA);
        var a = editorA.Sample(sessionA, [0.7], 0);
        var (_, editorB, sessionB) = Start();
        editorB.Train(sessionB);
        var b = editorB.Sample(sessionB, [0.7], 0);

        Assert.True(Tensors.Identical(sessionA.OptimizedEmbedding, sessionB.OptimizedEmbedding));
        Assert.True(Tensors.Identical(a, b));
        Assert.Equal(sessionA.FineTuneLosses, sessionB.FineTuneLosses);
    }

    [Fact]
    public void Interpolate_IsLinearInEta()
    {
        var eTgt = torch.ones(1, 2, 3);
        var eOpt = torch.zeros(1, 2, 3);
        Assert.Equal(0.7f, InterpolationSampling.Interpolate(eTgt, eOpt, 0.7)[0, 0, 0].item<float>(), 6);
        Assert.True(Tensors.Identical(InterpolationSampling.Interpolate(eTgt, eOpt, 0), eOpt));
    }

    [Fact]
    public void Start_EmptyPrompt_FailsClearly()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var editor = new ImagicEditor(pipe, EditTestData.FastOptions);
        var e = Assert.Throws<ImagicException>(() => editor.Start(torch.zeros(1, 3, 64, 64), "  "));
        Assert.Contains("empty", e.Message);
    }
}
