using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>Where an edit is: which training stage runs next, or done.</summary>
public enum EditStage { EmbeddingOptimization, ModelFineTuning, Done }

/// <summary>
/// The state of one Imagic edit: the inputs, the embeddings, where training is, and, when loaded from a
/// checkpoint, the running stage's state to resume it exactly.
/// </summary>
public sealed class EditSession : IDisposable
{
    /// <summary>The preprocessed input image [1, 3, H, W] in [-1, 1].</summary>
    public required Tensor InputImage { get; init; }

    public required string TargetText { get; init; }

    /// <summary>The input's scaled latents z₀ (the VAE sample drawn from the seed).</summary>
    public required Tensor Latents { get; init; }

    /// <summary>e_tgt: the target text's embedding [1, 77, D].</summary>
    public required Tensor TargetEmbedding { get; init; }

    /// <summary>e_opt: the embedding that reconstructs the input; equals e_tgt before stage A.</summary>
    public required Tensor OptimizedEmbedding { get; set; }

    public EditStage Stage { get; set; } = EditStage.EmbeddingOptimization;

    /// <summary>Steps of <see cref="Stage"/> already taken.</summary>
    public int Step { get; set; }

    public List<double> EmbeddingLosses { get; } = new();
    public List<double> FineTuneLosses { get; } = new();

    /// <summary>
    /// The running stage's resumable state (named tensors, see <see cref="TrainingStage.ExportState"/>) when the
    /// session was loaded from a checkpoint; the stage takes it when it starts.
    /// </summary>
    public Dictionary<string, Tensor>? StageState { get; set; }

    /// <summary>Hands <see cref="StageState"/> over to the stage that resumes from it (the caller disposes it).</summary>
    internal Dictionary<string, Tensor>? TakeStageState()
    {
        var state = StageState;
        StageState = null;
        return state;
    }

    /// <summary>Moves on to the next stage at step 0.</summary>
    internal void Advance(EditStage stage)
    {
        DisposeStageState();
        Stage = stage;
        Step = 0;
    }

    void DisposeStageState()
    {
        if (StageState is not null)
            foreach (var t in StageState.Values) t.Dispose();
        StageState = null;
    }

    public void Dispose()
    {
        InputImage.Dispose();
        Latents.Dispose();
        TargetEmbedding.Dispose();
        OptimizedEmbedding.Dispose();
        DisposeStageState();
    }
}
