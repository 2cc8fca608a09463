using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Stage A of Imagic (Kawar et al., CVPR 2023, §3.1, eq. 2): starting from the target text's embedding e_tgt,
/// Adam optimises e_opt = argmin_e E_{t,ε} ‖f(x_t, t, e) − target‖² on the input's latents with the model frozen
/// (no weight gradients are computed). Its resumable state is e_opt, Adam's moments, the generator and the step.
/// </summary>
public sealed class EmbeddingOptimization : TrainingStage
{
    readonly Tensor _embedding;
    readonly Adam _adam;

    /// <param name="unet">The frozen UNet.</param>
    /// <param name="latents">z₀, [1, C, h, w].</param>
    /// <param name="start">e_tgt, [1, 77, D]: where the optimisation starts (copied).</param>
    /// <param name="state">A state from <see cref="TrainingStage.ExportState"/> to continue from, or null to start.</param>
    public EmbeddingOptimization(UNet2DConditionModel unet, DdpmScheduler ddpm, Tensor latents, Tensor start, ImagicOptions options,
        ulong seed, IReadOnlyDictionary<string, Tensor>? state = null)
        : base("stage A", unet, ddpm, latents, options.EmbeddingSteps, new StageObjective(options.EmbeddingBatch, options.TimestepSampling), seed)
    {
        foreach (var p in unet.parameters()) p.requires_grad = false;
        _embedding = start.detach().clone().requires_grad_(true).DetachFromDisposeScope();
        _adam = new Adam(new[] { ("e_opt", _embedding) }, options.EmbeddingLearningRate);
        if (state is not null) ImportState(state);
    }

    /// <summary>e_opt as it stands: a copy, detached from the optimisation.</summary>
    public Tensor Embedding => _embedding.detach().clone();

    private protected override Adam Optimizer => _adam;
    private protected override Tensor Context => _embedding;

    private protected override IEnumerable<KeyValuePair<string, Tensor>> ExportTrained() =>
        new[] { KeyValuePair.Create("e_opt", _embedding.detach().clone()) };

    private protected override void ImportTrained(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("e_opt", out var value) || !value.shape.SequenceEqual(_embedding.shape))
            throw new ImagicException($"Cannot resume {Name}: its checkpoint has no e_opt of shape [{string.Join(", ", _embedding.shape)}].");
        using var _ = torch.no_grad();
        _embedding.copy_(value);
    }

    public override void Dispose()
    {
        _adam.Dispose();
        _embedding.Dispose();
        base.Dispose();
    }
}
