using Imagic.Schedulers;
using static TorchSharp.torch;

namespace Imagic.Pipelines;

/// <summary>How <see cref="StableDiffusionPipeline.Load(string, PipelineLoadOptions?)"/> reads a model.</summary>
public sealed record PipelineLoadOptions
{
    /// <summary>Where the models run and every tensor is created. Default: <see cref="ComputeDevice.Cpu"/>.</summary>
    public Device? Device { get; init; }

    /// <summary>
    /// For a single-file checkpoint: a diffusers folder whose <c>unet/</c>, <c>vae/</c> and <c>text_encoder/</c>
    /// <c>config.json</c> files describe it (and, if present, its <c>scheduler/</c> and <c>tokenizer/</c>), instead of
    /// inferring the architecture from the weights' shapes. For fine-tunes with other widths. Default: null (infer).
    /// </summary>
    public string? ConfigDir { get; init; }

    /// <summary>
    /// Overrides the scheduler's <c>prediction_type</c>, which weights cannot tell. Default: null, which keeps a folder's
    /// scheduler config and, for a single file, means ε for SD 1.x and v-prediction for SD 2.x, as the reference converters do.
    /// </summary>
    public PredictionType? PredictionType { get; init; }

    /// <summary>
    /// For a single-file checkpoint that keeps both the training and the EMA weights of its UNet (e.g.
    /// <c>v1-5-pruned.safetensors</c>): load the EMA ones (<c>model_ema.*</c>). Default false: the training weights, which
    /// in the <c>-emaonly</c> files already are the EMA weights.
    /// </summary>
    public bool UseEma { get; init; }

    /// <summary>
    /// For a single-file checkpoint, which carries no vocabulary: a folder with CLIP's <c>vocab.json</c>,
    /// <c>merges.txt</c> and <c>tokenizer_config.json</c> (the CLI passes the bundled model's). Used unless
    /// <see cref="ConfigDir"/> has a <c>tokenizer/</c>. Default: null.
    /// </summary>
    public string? TokenizerDir { get; init; }
}
