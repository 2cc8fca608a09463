using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Imagic (Kawar et al., CVPR 2023): edit a real image by text in three stages on a frozen-then-tuned
/// text-to-image diffusion model, each its own unit:
/// <list type="number">
/// <item>A. <see cref="EmbeddingOptimization"/>: starting from e_tgt, find e_opt whose denoising loss on the input
/// is minimal, with the model frozen.</item>
/// <item>B. <see cref="ModelFineTuning"/>: with e_opt frozen, fine-tune the UNet so that it reconstructs the input
/// from e_opt.</item>
/// <item>C. <see cref="InterpolationSampling"/>: sample e = η·e_tgt + (1 − η)·e_opt with the fine-tuned UNet.</item>
/// </list>
/// The editor runs them in order on an <see cref="EditSession"/>, hands each running stage's state to
/// <see cref="Checkpoint"/>, and resumes a stage from the state a session carries. Stage B changes
/// <see cref="StableDiffusionPipeline.UNet"/> in place.
/// </summary>
public sealed class ImagicEditor : IDisposable
{
    readonly StableDiffusionPipeline _pipe;
    readonly DdpmScheduler _ddpm;
    InterpolationSampling? _sampling;
    // With Options.Forget: that half's pretrained weights, copied when the editor is made (before training, or before a
    // trained session is loaded into the UNet). Half a UNet of memory; none otherwise.
    readonly Tensor[]? _pretrainedHalf;
    // With the mask on: the edit region of the session sampled last, estimated once per session.
    (EditSession Session, Tensor Mask)? _mask;

    public ImagicOptions Options { get; }

    /// <summary>
    /// Called with the session and the running stage's state (named tensors, see <see cref="TrainingStage.ExportState"/>)
    /// every <see cref="ImagicOptions.CheckpointEvery"/> steps and when cancelled.
    /// </summary>
    public Action<EditSession, IReadOnlyDictionary<string, Tensor>>? Checkpoint { get; set; }

    /// <summary>An editor over <paramref name="pipe"/>, whose UNet stage B fine-tunes in place.</summary>
    /// <remarks>
    /// With <see cref="ImagicOptions.Forget"/> set, the editor copies that half's weights now, as the pretrained ones:
    /// make it while the UNet still holds the model's own weights, before training or loading a trained session.
    /// </remarks>
    public ImagicEditor(StableDiffusionPipeline pipe, ImagicOptions options)
    {
        options.Validate();
        _pipe = pipe;
        Options = options;
        _ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        if (options.Forget != UNetHalf.None)
            _pretrainedHalf = pipe.UNet.ParametersOf(options.Forget).Select(p => p.Param.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Encodes the input and the target text: the session before stage A.</summary>
    /// <param name="image">The preprocessed input [1, 3, H, W] in [-1, 1].</param>
    public EditSession Start(Tensor image, string targetText)
    {
        if (string.IsNullOrWhiteSpace(targetText))
            throw new ImagicException("The target text is empty: describe the edited image, e.g. \"a photo of a dog standing\".");
        _pipe.CheckImageSize((int)image.shape[2], (int)image.shape[3]);
        Tensor latents;
        if (Options.InputLatents == LatentEncoding.Mean)
            latents = _pipe.EncodeImage(image);
        else
        {
            using var vaeGenerator = new Generator(SeedFor(Options.Seed, 0), _pipe.Device);
            latents = _pipe.EncodeImage(image, vaeGenerator);
        }
        var eTgt = _pipe.EncodePrompt(targetText);
        return new EditSession
        {
            InputImage = image.clone(),
            TargetText = targetText,
            Latents = latents,
            TargetEmbedding = eTgt,
            OptimizedEmbedding = eTgt.clone(),
        };
    }

    /// <summary>Runs stages A and B from wherever the session is until it is <see cref="EditStage.Done"/>.</summary>
    public void Train(EditSession session, IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (session.Stage == EditStage.EmbeddingOptimization)
        {
            using (var stageA = Resume(session, state => new EmbeddingOptimization(_pipe.UNet, _ddpm, session.Latents,
                       session.TargetEmbedding, Options, SeedFor(Options.Seed, 1), state)))
            {
                Run(stageA, session, session.EmbeddingLosses, progress, cancellation);
                session.OptimizedEmbedding.Dispose();
                session.OptimizedEmbedding = stageA.Embedding.DetachFromDisposeScope();
            }
            session.Advance(EditStage.ModelFineTuning);
        }
        if (session.Stage == EditStage.ModelFineTuning)
        {
            using (var stageB = Resume(session, state => new ModelFineTuning(_pipe.UNet, _ddpm, session.Latents,
                       session.OptimizedEmbedding, Sampling.Unconditional, Options, SeedFor(Options.Seed, 2), SeedFor(Options.Seed, 4), state)))
            {
                Run(stageB, session, session.FineTuneLosses, progress, cancellation);
                stageB.Complete();
            }
            session.Advance(EditStage.Done);
        }
    }

    /// <summary>Builds a stage from the state the session carries (if any), which is released once the stage has copied it.</summary>
    static T Resume<T>(EditSession session, Func<IReadOnlyDictionary<string, Tensor>?, T> create)
    {
        var state = session.TakeStageState();
        try
        {
            return create(state);
        }
        finally
        {
            if (state is not null)
                foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>Steps a stage to its end, reporting progress and checkpointing; on cancellation, checkpoints first.</summary>
    void Run(TrainingStage stage, EditSession session, List<double> losses, IProgress<StepProgress>? progress, CancellationToken cancellation)
    {
        while (stage.Step < stage.TotalSteps)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint(stage, session);
                cancellation.ThrowIfCancellationRequested();
            }
            losses.Add(stage.TakeStep());
            session.Step = stage.Step;
            progress?.Report(new StepProgress(stage.Name, stage.Step, stage.TotalSteps, losses[^1]));
            if (stage.Step % Options.CheckpointEvery == 0 && stage.Step < stage.TotalSteps)
                SaveCheckpoint(stage, session);
        }
    }

    void SaveCheckpoint(TrainingStage stage, EditSession session)
    {
        if (Checkpoint is null) return;
        var state = stage.ExportState();
        try
        {
            Checkpoint(session, state);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>Stage C, shared by every sample this editor draws (the empty prompt is encoded once).</summary>
    public InterpolationSampling Sampling => _sampling ??= new InterpolationSampling(_pipe, Options.Sampling, Options.GuidanceAt, Options.GuidanceNegative);

    /// <summary>
    /// Stage C at every η of <paramref name="etas"/> from the noise of <paramref name="sampleSeed"/> (or, with
    /// <see cref="SamplingStart.Inversion"/>, from the input's inversion, whatever the seed, below
    /// <see cref="ImagicOptions.NoiseFromEta"/>), decoded:
    /// [N, 3, H, W] in about [-1, 1].
    /// </summary>
    /// <param name="sampleSeed">Seed of the initial noise; different seeds give different edits.</param>
    /// <param name="mask">Whether to keep the input's pixels outside the edit region; default: <see cref="ImagicOptions.Mask"/>.</param>
    public Tensor Sample(EditSession session, IReadOnlyList<double> etas, long sampleSeed, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, EditMaskMode? mask = null)
    {
        using var scope = torch.NewDisposeScope();
        var latents = SampleLatents(session, etas, sampleSeed, progress, cancellation);
        // One image at a time: a batch of VAE decodes at Stable Diffusion size costs gigabytes.
        var images = torch.cat(Enumerable.Range(0, etas.Count).Select(i => _pipe.DecodeLatents(latents.narrow(0, i, 1))).ToArray());
        if ((mask ?? Options.Mask) == EditMaskMode.Auto)
            images = EditMask.Composite(images, session.InputImage, EditRegion(session));
        return images.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The region of the input that stage C may change (<see cref="EditMask.Estimate"/>, under the fine-tuned UNet):
    /// [1, 1, h, w] in latent pixels, 1 inside. Estimated once per session; it does not depend on η or the sample seed.
    /// </summary>
    public Tensor EditRegion(EditSession session)
    {
        if (_mask is { } cached && ReferenceEquals(cached.Session, session)) return cached.Mask;
        _mask?.Mask.Dispose();
        var mask = EditMask.Estimate(_pipe, session.Latents, session.TargetEmbedding, session.OptimizedEmbedding, (long)SeedFor(Options.Seed, 5))
            .DetachFromDisposeScope();
        _mask = (session, mask);
        return mask;
    }

    /// <summary>Stage C before decoding: the edited latents [N, C, h, w], one per η.</summary>
    /// <remarks>
    /// With <see cref="ImagicOptions.Forget"/>, each η samples with that half of the UNet at
    /// lerp(fine-tuned, pretrained, min(η, 1)^p) (<see cref="ImagicOptions.ForgetWeight"/>), inversion included; the
    /// values of η that share a weight set are sampled together, and the fine-tuned weights are back in place
    /// afterwards, bit for bit.
    /// </remarks>
    public Tensor SampleLatents(EditSession session, IReadOnlyList<double> etas, long sampleSeed, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        int shared = Options.SharedAttentionSteps;
        if (shared == 0)
            return SampleLatentsForgetting(session, etas, sampleSeed, progress, cancellation);
        // The source of the shared self-attention: η = 0 under the whole fine-tuned UNet, from η = 0's start.
        using var sharing = new AttentionSharing(_pipe.UNet, shared);
        Sampling.Sharing = sharing;
        try
        {
            SampleLatentsAsTuned(session, new[] { 0.0 }, sampleSeed, null, cancellation).Dispose(); // recorded
            return SampleLatentsForgetting(session, etas, sampleSeed, progress, cancellation);
        }
        finally
        {
            Sampling.Sharing = null;
        }
    }

    Tensor SampleLatentsForgetting(EditSession session, IReadOnlyList<double> etas, long sampleSeed, IProgress<StepProgress>? progress,
        CancellationToken cancellation)
    {
        if (_pretrainedHalf is null)
            return SampleLatentsAsTuned(session, etas, sampleSeed, progress, cancellation);
        using var scope = torch.NewDisposeScope();
        var half = _pipe.UNet.ParametersOf(Options.Forget).Select(p => p.Param).ToArray();
        var tuned = half.Select(p => p.detach().clone()).ToArray();
        var latents = new Tensor[etas.Count];
        try
        {
            foreach (var group in etas.Select((eta, i) => (Eta: eta, Index: i)).GroupBy(e => Options.ForgetWeight(e.Eta)))
            {
                using (torch.no_grad())
                    for (int k = 0; k < half.Length; k++)
                    {
                        // Freed at once: kept to the end of the scope, every group would add half a UNet of memory.
                        using var mixed = tuned[k].lerp(_pretrainedHalf[k], group.Key);
                        half[k].copy_(mixed);
                    }
                var sampled = SampleLatentsAsTuned(session, group.Select(e => e.Eta).ToArray(), sampleSeed, progress, cancellation);
                int row = 0;
                foreach (var e in group) latents[e.Index] = sampled.narrow(0, row++, 1);
            }
        }
        finally
        {
            using (torch.no_grad())
                for (int k = 0; k < half.Length; k++)
                    half[k].copy_(tuned[k]);
        }
        return torch.cat(latents).MoveToOuterDisposeScope();
    }

    /// <summary>Stage C with the UNet as it is now; each η from its own start (<see cref="ImagicOptions.StartsFromInversion"/>).</summary>
    Tensor SampleLatentsAsTuned(EditSession session, IReadOnlyList<double> etas, long sampleSeed, IProgress<StepProgress>? progress,
        CancellationToken cancellation)
    {
        using var scope = torch.NewDisposeScope();
        var latents = new Tensor[etas.Count];
        foreach (var group in etas.Select((eta, i) => (Eta: eta, Index: i)).GroupBy(e => Options.StartsFromInversion(e.Eta)))
        {
            using var start = group.Key
                ? DdimInversion.Invert(_pipe, session.Latents, session.OptimizedEmbedding, Options.SamplingSteps, cancellation)
                : InterpolationSampling.Noise(session.Latents.shape, sampleSeed, _pipe.Device);
            // DDIM's per-step noise (ddim_eta > 0) from the same seed for either start.
            using var generator = new Generator(SeedFor(sampleSeed, 3), _pipe.Device);
            var sampled = Sampling.SampleLatents(session.TargetEmbedding, session.OptimizedEmbedding, group.Select(e => e.Eta).ToArray(),
                start, generator, progress, cancellation);
            int row = 0;
            foreach (var e in group) latents[e.Index] = sampled.narrow(0, row++, 1);
        }
        return torch.cat(latents).MoveToOuterDisposeScope();
    }

    /// <summary>Derives independent generator seeds for each use of the one user seed.</summary>
    static ulong SeedFor(long seed, int purpose) => unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)purpose * 0xBF58476D1CE4E5B9UL + 1);

    public void Dispose()
    {
        _sampling?.Dispose();
        _mask?.Mask.Dispose();
        if (_pretrainedHalf is not null)
            foreach (var t in _pretrainedHalf) t.Dispose();
    }
}
