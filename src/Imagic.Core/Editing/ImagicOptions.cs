using System.Text.Json;
using System.Text.Json.Serialization;
using Imagic.Pipelines;
using Imagic.Training;

namespace Imagic.Editing;

/// <summary>
/// Every hyperparameter of an Imagic edit. Defaults are the paper's Stable Diffusion settings
/// (Kawar et al., CVPR 2023, appendix): stage A 1000 Adam steps at lr 2e-3, stage B 1500 steps at
/// lr 5e-7, DDIM with 50 steps and guidance 7.5, and η = 0.7. A model folder may override them with
/// an <c>imagic_defaults.json</c> holding any of these properties (the bundled model does).
/// </summary>
public sealed record ImagicOptions
{
    /// <summary>Stage A: Adam steps optimising the text embedding. Default 1000.</summary>
    [JsonPropertyName("embedding_steps")] public int EmbeddingSteps { get; init; } = 1000;

    /// <summary>Stage A learning rate. Default 2e-3.</summary>
    [JsonPropertyName("embedding_lr")] public double EmbeddingLearningRate { get; init; } = 2e-3;

    /// <summary>Stage B: Adam steps fine-tuning the UNet. Default 1500.</summary>
    [JsonPropertyName("finetune_steps")] public int FinetuneSteps { get; init; } = 1500;

    /// <summary>Stage B learning rate. Default 5e-7.</summary>
    [JsonPropertyName("finetune_lr")] public double FinetuneLearningRate { get; init; } = 5e-7;

    /// <summary>
    /// Stage B: what to fine-tune. <see cref="FinetuneMethod.Full"/> (default) trains every UNet weight, as the
    /// paper does. <see cref="FinetuneMethod.Lora"/> trains only LoRA adapters on the attention projections
    /// and merges them afterwards: a parameter-efficient variant of the paper, not the paper's method.
    /// </summary>
    [JsonPropertyName("finetune_method")] public FinetuneMethod FinetuneMethod { get; init; } = FinetuneMethod.Full;

    /// <summary>Stage B with LoRA: the adapters' rank r. Default 4.</summary>
    [JsonPropertyName("lora_rank")] public int LoraRank { get; init; } = 4;

    /// <summary>Stage B with LoRA: α, which scales the update by α/r. Default null, meaning α = r (scale 1).</summary>
    [JsonPropertyName("lora_alpha")] public double? LoraAlpha { get; init; }

    /// <summary>
    /// Stage B with LoRA: the learning rate, used instead of <see cref="FinetuneLearningRate"/> (the paper's
    /// 5e-7 barely moves freshly initialised adapters). Default 1e-4, a common LoRA rate, not tuned for Imagic.
    /// </summary>
    [JsonPropertyName("lora_lr")] public double LoraLearningRate { get; init; } = 1e-4;

    /// <summary>
    /// Stage B: recompute each UNet block's activations in backward instead of keeping them, trading about
    /// one more forward pass per step for much lower peak memory. The result is unchanged. Default false.
    /// </summary>
    [JsonPropertyName("gradient_checkpointing")] public bool GradientCheckpointing { get; init; }

    /// <summary>Stage C: DDIM sampling steps. Default 50.</summary>
    [JsonPropertyName("sampling_steps")] public int SamplingSteps { get; init; } = 50;

    /// <summary>Stage C: classifier-free guidance scale against the empty prompt. Default 7.5.</summary>
    [JsonPropertyName("guidance_scale")] public double GuidanceScale { get; init; } = 7.5;

    /// <summary>
    /// Stage C: guidance rescale φ in [0, 1] (Lin et al., 2023; diffusers' <c>guidance_rescale</c>), against the
    /// over-saturation of high guidance scales. Default 0 (plain guidance).
    /// </summary>
    [JsonPropertyName("guidance_rescale")] public double GuidanceRescale { get; init; }

    /// <summary>Stage C: interpolation weight η in e = η·e_tgt + (1 − η)·e_opt. Default 0.7.</summary>
    [JsonPropertyName("eta")] public double Eta { get; init; } = 0.7;

    /// <summary>The η values of the sweep grid that <c>imagic edit</c> writes. Default 0.5…1.0.</summary>
    [JsonPropertyName("eta_sweep")] public double[] EtaSweep { get; init; } = { 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };

    /// <summary>The one seed behind the VAE sample, every training noise and timestep, and the sampling noise. Default 0.</summary>
    [JsonPropertyName("seed")] public long Seed { get; init; }

    /// <summary>Write a resumable checkpoint every this many training steps. Default 100.</summary>
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; } = 100;

    /// <summary>
    /// The largest η accepted. Above 1 the interpolation extrapolates past e_tgt; the diffusers community
    /// Imagic pipeline goes up to 1.2, so values up to 2 are allowed (the CLI warns above 1) and larger ones
    /// are refused as typos.
    /// </summary>
    public const double MaxEta = 2;

    /// <summary>Checks ranges; throws <see cref="ImagicException"/> naming the bad value.</summary>
    public void Validate()
    {
        if (EmbeddingSteps < 0) throw new ImagicException($"Stage A steps must be ≥ 0, got {EmbeddingSteps}.");
        if (FinetuneSteps < 0) throw new ImagicException($"Stage B steps must be ≥ 0, got {FinetuneSteps}.");
        if (SamplingSteps < 1) throw new ImagicException($"Sampling steps must be ≥ 1, got {SamplingSteps}.");
        CheckLearningRate(EmbeddingLearningRate, "stage A learning rate (--embedding-lr)");
        CheckLearningRate(FinetuneLearningRate, "stage B learning rate (--finetune-lr)");
        CheckLearningRate(LoraLearningRate, "LoRA learning rate (--lora-lr)");
        if (LoraRank < 1) throw new ImagicException($"The LoRA rank must be ≥ 1, got {LoraRank}.");
        if (LoraAlpha is double alpha && !(double.IsFinite(alpha) && alpha > 0))
            throw new ImagicException($"LoRA alpha must be a positive finite number, got {alpha}.");
        if (CheckpointEvery < 1) throw new ImagicException($"--checkpoint-every must be ≥ 1, got {CheckpointEvery}.");
        Sampling.Validate(int.MaxValue); // the model's step limit is checked against the model
        CheckEta(Eta);
        if (EtaSweep.Length == 0) throw new ImagicException("The η sweep needs at least one value.");
        foreach (var eta in EtaSweep) CheckEta(eta);
        if (EtaSweep.Distinct().Count() != EtaSweep.Length)
            throw new ImagicException($"The η sweep lists a value twice: {string.Join(", ", EtaSweep)}.");
    }

    /// <summary>Throws unless 0 ≤ η ≤ <see cref="MaxEta"/>.</summary>
    public static void CheckEta(double eta)
    {
        if (!(eta >= 0 && eta <= MaxEta))
            throw new ImagicException($"η must be a number in [0, {MaxEta}], got {eta}.");
    }

    static void CheckLearningRate(double value, string what)
    {
        if (!(double.IsFinite(value) && value > 0))
            throw new ImagicException($"The {what} must be a positive finite number, got {value}.");
    }

    /// <summary>Stage C's sampling settings.</summary>
    [JsonIgnore]
    public SamplingOptions Sampling => new() { Steps = SamplingSteps, GuidanceScale = GuidanceScale, GuidanceRescale = GuidanceRescale };

    /// <summary>Stage B's method, LoRA shape and checkpointing, as the fine-tuning takes them.</summary>
    [JsonIgnore]
    public FineTuneSettings FineTuneSettings => new(FinetuneMethod, LoraRank, LoraAlpha ?? LoraRank, GradientCheckpointing);

    /// <summary>Stage B's learning rate for the chosen method.</summary>
    [JsonIgnore]
    public double StageBLearningRate => FinetuneMethod == FinetuneMethod.Lora ? LoraLearningRate : FinetuneLearningRate;

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>
    /// The paper's defaults overridden by the model folder's <c>imagic_defaults.json</c>, if it has one.
    /// Values the user sets on the command line are applied on top by the caller.
    /// </summary>
    public static ImagicOptions ForModel(string modelDir)
    {
        string path = Path.Combine(modelDir, "imagic_defaults.json");
        if (!File.Exists(path)) return new ImagicOptions();
        try
        {
            return JsonSerializer.Deserialize<ImagicOptions>(File.ReadAllText(path), Json) ?? new ImagicOptions();
        }
        catch (JsonException e)
        {
            throw new ImagicException($"{path} is not valid: {e.Message}", e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ImagicOptions FromJson(string json) => JsonSerializer.Deserialize<ImagicOptions>(json, Json)!;
}
