using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>Where an edit is: which training stage runs next, or done.</summary>
public enum EditStage { EmbeddingOptimization, ModelFineTuning, Done }

/// <summary>
/// The state of one Imagic edit: the inputs, the embeddings, and enough of the running stage
/// (step, optimizer moments, random-generator state) to resume it exactly.
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

    /// <summary>Optimizer state of the running stage, set on a checkpoint or when resuming.</summary>
    public Dictionary<string, Tensor>? OptimizerState { get; set; }

    /// <summary>Random-generator state of the running stage, set on a checkpoint or when resuming.</summary>
    public Tensor? GeneratorState { get; set; }

    /// <summary>LoRA adapter weights of a running LoRA stage B, set on a checkpoint or when resuming.</summary>
    public Dictionary<string, Tensor>? LoraState { get; set; }

    public void Dispose()
    {
        InputImage.Dispose();
        Latents.Dispose();
        TargetEmbedding.Dispose();
        OptimizedEmbedding.Dispose();
        GeneratorState?.Dispose();
        if (OptimizerState is not null)
            foreach (var t in OptimizerState.Values) t.Dispose();
        if (LoraState is not null)
            foreach (var t in LoraState.Values) t.Dispose();
    }
}
