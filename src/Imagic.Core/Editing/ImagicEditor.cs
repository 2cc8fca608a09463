using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Imagic (Kawar et al., CVPR 2023): edit a real image by text in three stages on a frozen-then-tuned
/// text-to-image diffusion model.
/// <list type="number">
/// <item>A. Embedding optimisation: starting from e_tgt, Adam finds e_opt whose denoising loss on the
/// input is minimal, with the model frozen.</item>
/// <item>B. Model fine-tuning: with e_opt frozen, the UNet is fine-tuned on the same loss so that it
/// reconstructs the input from e_opt.</item>
/// <item>C. Interpolation: e = η·e_tgt + (1 − η)·e_opt, sampled with the fine-tuned UNet by guided DDIM.</item>
/// </list>
/// Stage B changes <see cref="StableDiffusionPipeline.UNet"/> in place. With
/// <see cref="ImagicOptions.FinetuneMethod"/> = LoRA it trains low-rank adapters instead of every weight
/// (a variant, not the paper's method) and merges them into the UNet at the end.
/// </summary>
public sealed class ImagicEditor
{
    readonly StableDiffusionPipeline _pipe;
    readonly DdpmScheduler _ddpm;
    Tensor? _uncond; // the empty prompt's embedding, computed once for every stage C sample

    public ImagicOptions Options { get; }

    /// <summary>Called with the session every <see cref="ImagicOptions.CheckpointEvery"/> steps and when cancelled.</summary>
    public Action<EditSession>? Checkpoint { get; set; }

    public ImagicEditor(StableDiffusionPipeline pipe, ImagicOptions options)
    {
        options.Validate();
        _pipe = pipe;
        Options = options;
        _ddpm = new DdpmScheduler(pipe.SchedulerConfig);
    }

    /// <summary>Encodes the input and the target text: the session before stage A.</summary>
    /// <param name="image">The preprocessed input [1, 3, H, W] in [-1, 1].</param>
    public EditSession Start(Tensor image, string targetText)
    {
        if (string.IsNullOrWhiteSpace(targetText))
            throw new ImagicException("The target text is empty: describe the edited image, e.g. \"a photo of a dog standing\".");
        _pipe.CheckImageSize((int)image.shape[2], (int)image.shape[3]);
        using var vaeGenerator = new Generator(SeedFor(Options.Seed, 0), torch.CPU);
        var latents = _pipe.EncodeImage(image, vaeGenerator);
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
            OptimizeEmbedding(session, progress, cancellation);
            session.Stage = EditStage.ModelFineTuning;
            session.Step = 0;
            ClearRunningState(session);
        }
        if (session.Stage == EditStage.ModelFineTuning)
        {
            FineTuneModel(session, progress, cancellation);
            session.Stage = EditStage.Done;
            session.Step = 0;
            ClearRunningState(session);
        }
    }

    /// <summary>Stage A: optimise e_opt with the UNet frozen (no weight gradients are computed).</summary>
    void OptimizeEmbedding(EditSession session, IProgress<StepProgress>? progress, CancellationToken cancellation)
    {
        _pipe.SetTrainable(false);
        var eOpt = session.OptimizedEmbedding.detach().clone().requires_grad_(true).DetachFromDisposeScope();
        session.OptimizedEmbedding.Dispose();
        session.OptimizedEmbedding = eOpt;
        using var adam = new Adam(new[] { ("e_opt", eOpt) }, Options.EmbeddingLearningRate);
        RunStage(session, "stage A", Options.EmbeddingSteps, adam, session.EmbeddingLosses, SeedFor(Options.Seed, 1),
            () => eOpt, progress, cancellation);
        session.OptimizedEmbedding = eOpt.detach().DetachFromDisposeScope();
    }

    /// <summary>
    /// Stage B: fine-tune the UNet with e_opt frozen: every weight (the paper), or LoRA adapters that are
    /// merged into the weights at the end, so everything after stage B sees a plain UNet either way.
    /// </summary>
    void FineTuneModel(EditSession session, IProgress<StepProgress>? progress, CancellationToken cancellation)
    {
        var eOpt = session.OptimizedEmbedding.detach();
        try
        {
            using var loraGenerator = new Generator(SeedFor(Options.Seed, 4), torch.CPU);
            using var tuning = UNetFineTuning.Begin(_pipe.UNet, Options.FineTuneSettings, Options.StageBLearningRate, loraGenerator);
            if (tuning.Lora is not null && session.Step > 0)
                tuning.Lora.ImportState(session.LoraState
                    ?? throw new ImagicException($"Cannot resume stage B at step {session.Step}: the checkpoint lacks the LoRA weights."));
            RunStage(session, "stage B", Options.FinetuneSteps, tuning.Optimizer, session.FineTuneLosses, SeedFor(Options.Seed, 2),
                () => eOpt, progress, cancellation, () => tuning.Lora?.ExportState());
            tuning.Complete();
        }
        finally
        {
            _pipe.SetTrainable(false);
        }
    }

    /// <summary>
    /// The loop both stages share: denoising loss on z₀, backward, Adam, with checkpoints. The generator
    /// and optimizer continue from the session's saved state when resuming, so a resumed run takes the
    /// very same steps as an uninterrupted one.
    /// </summary>
    /// <param name="adapterState">Copies of LoRA weights to checkpoint, when they are what is trained.</param>
    void RunStage(EditSession session, string name, int totalSteps, Adam adam, List<double> losses, ulong seed,
        Func<Tensor> context, IProgress<StepProgress>? progress, CancellationToken cancellation,
        Func<Dictionary<string, Tensor>?>? adapterState = null)
    {
        using var generator = new Generator(seed, torch.CPU);
        if (session.Step > 0)
        {
            if (session.GeneratorState is null || session.OptimizerState is null)
                throw new ImagicException($"Cannot resume {name} at step {session.Step}: the checkpoint lacks optimizer or generator state.");
            generator.set_state(session.GeneratorState);
            adam.ImportState(session.OptimizerState);
        }
        while (session.Step < totalSteps)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint(session, adam, generator, adapterState);
                cancellation.ThrowIfCancellationRequested();
            }
            using (var scope = torch.NewDisposeScope())
            {
                adam.ZeroGrad();
                var loss = DenoisingLoss.Compute(_pipe.UNet, _ddpm, session.Latents, context(), generator);
                loss.backward();
                NonFinite.Check(loss, adam, name, session.Step + 1);
                adam.Step();
                losses.Add(loss.item<float>());
            }
            session.Step++;
            progress?.Report(new StepProgress(name, session.Step, totalSteps, losses[^1]));
            if (session.Step % Options.CheckpointEvery == 0 && session.Step < totalSteps)
                SaveCheckpoint(session, adam, generator, adapterState);
        }
    }

    void SaveCheckpoint(EditSession session, Adam adam, Generator generator, Func<Dictionary<string, Tensor>?>? adapterState)
    {
        if (Checkpoint is null) return;
        ClearRunningState(session);
        session.OptimizerState = adam.ExportState();
        session.GeneratorState = generator.get_state().DetachFromDisposeScope();
        session.LoraState = adapterState?.Invoke();
        Checkpoint(session);
    }

    static void ClearRunningState(EditSession session)
    {
        if (session.OptimizerState is not null)
            foreach (var t in session.OptimizerState.Values) t.Dispose();
        session.OptimizerState = null;
        if (session.LoraState is not null)
            foreach (var t in session.LoraState.Values) t.Dispose();
        session.LoraState = null;
        session.GeneratorState?.Dispose();
        session.GeneratorState = null;
    }

    /// <summary>Stage C's interpolation: e = η·e_tgt + (1 − η)·e_opt.</summary>
    public static Tensor Interpolate(Tensor eTgt, Tensor eOpt, double eta) => eta * eTgt + (1 - eta) * eOpt;

    /// <summary>
    /// Stage C: samples the edited image at interpolation weight <paramref name="eta"/> with the current
    /// (fine-tuned) UNet, guided against the empty prompt. Returns [1, 3, H, W] in about [-1, 1].
    /// </summary>
    /// <param name="sampleSeed">Seed of the initial noise; different seeds give different edits.</param>
    public Tensor Sample(EditSession session, double eta, long sampleSeed, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        using var latents = SampleLatents(session, eta, sampleSeed, progress, cancellation);
        return _pipe.DecodeLatents(latents);
    }

    /// <summary>Stage C before decoding: the edited latents [1, C, h, w].</summary>
    public Tensor SampleLatents(EditSession session, double eta, long sampleSeed, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var e = Interpolate(session.TargetEmbedding, session.OptimizedEmbedding, eta);
        _uncond ??= _pipe.EncodePrompt("").DetachFromDisposeScope();
        var uncond = _uncond;
        using var generator = new Generator(SeedFor(sampleSeed, 3), torch.CPU);
        var noise = torch.randn(session.Latents.shape, generator: generator);
        return _pipe.Sample(e, uncond, noise, Options.Sampling, generator, progress, cancellation).MoveToOuterDisposeScope();
    }

    /// <summary>Derives independent generator seeds for each use of the one user seed.</summary>
    static ulong SeedFor(long seed, int purpose) => unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)purpose * 0xBF58476D1CE4E5B9UL + 1);
}
