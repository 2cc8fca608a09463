using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Imagic.Models;
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
    /// <see cref="FinetuneMethod.Decoder"/> trains only the UNet's decoder half, at <see cref="FinetuneLearningRate"/>.
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

    /// <summary>Stage A: (t, ε) pairs per Adam step, as one batch. Default 1, as in the paper.</summary>
    [JsonPropertyName("embedding_batch")] public int EmbeddingBatch { get; init; } = 1;

    /// <summary>Stage B: (t, ε) pairs per Adam step, as one batch. Default 1, as in the paper.</summary>
    [JsonPropertyName("finetune_batch")] public int FinetuneBatch { get; init; } = 1;

    /// <summary>
    /// Stages A and B: how each step's timesteps are drawn. <see cref="TimestepStrategy.Uniform"/> (default, the paper)
    /// draws them independently; <see cref="TimestepStrategy.Stratified"/> takes one from each of <c>batch</c> equal
    /// strata of the schedule, so every step sees the whole noise range.
    /// </summary>
    [JsonPropertyName("timestep_sampling")] public TimestepStrategy TimestepSampling { get; init; } = TimestepStrategy.Uniform;

    /// <summary>
    /// Which latents z₀ of the input stages A and B fit: a sample of the VAE posterior (default, as the diffusers Imagic
    /// pipeline does) or its mean, the latents whose decoding is closest to the input.
    /// </summary>
    [JsonPropertyName("input_latents")] public LatentEncoding InputLatents { get; init; } = LatentEncoding.Sample;

    /// <summary>
    /// Stage B also fits the input under the empty prompt, the other half of classifier-free guidance, so that at η = 0 both
    /// guidance branches reconstruct the input. Not in the paper. Default false.
    /// </summary>
    [JsonPropertyName("finetune_unconditional")] public bool FinetuneUnconditional { get; init; }

    /// <summary>Stage C: DDIM's η (Song et al. 2021, eq. 16): 0 (default) is deterministic DDIM, 1 is DDPM-like.</summary>
    [JsonPropertyName("ddim_eta")] public double DdimEta { get; init; }

    /// <summary>
    /// Stage C: what sampling starts from: <see cref="SamplingStart.Noise"/> (default, the paper) or
    /// <see cref="SamplingStart.Inversion"/>, the input inverted by DDIM under the fine-tuned model. Not in the paper.
    /// </summary>
    [JsonPropertyName("sampling_start")] public SamplingStart SamplingStart { get; init; } = SamplingStart.Noise;

    /// <summary>
    /// Stage C with <see cref="SamplingStart.Inversion"/>: the η values at or above this one start from the seed's noise
    /// instead, so that the large edits can repaint what the inversion's noise holds of the input (a background's or an
    /// object's colour), while smaller η keep the input's layout. Null (default): every η starts from
    /// <see cref="SamplingStart"/>. Not in the paper; see docs/imagic-tuning.md.
    /// </summary>
    [JsonPropertyName("noise_from_eta")] public double? NoiseFromEta { get; init; }

    /// <summary>
    /// These options with every stage C setting, the seed and the checkpoint interval at fixed values: with the seed
    /// given apart (the benchmark keys a kept state by its case, which holds the seed), what a trained state depends on.
    /// Equal <see cref="TrainingOnly"/> and seeds train the same e_opt and UNet. A new stage C option must be reset here,
    /// to its type's default (0, null, false, the first enum value) even where that is not a valid setting: the
    /// benchmark's key leaves such values out, so the states kept before the option existed stay valid.
    /// </summary>
    public ImagicOptions TrainingOnly() => this with
    {
        Seed = 0, EtaSweep = null!, Eta = 0, CheckpointEvery = 0, SamplingSteps = 0, GuidanceScale = 0, GuidanceRescale = 0, DdimEta = 0,
        SamplingStart = SamplingStart.Noise, NoiseFromEta = null, GuidanceRamp = null, Forget = UNetHalf.None, ForgetPower = 0,
        Mask = EditMaskMode.None, ShareAttention = 0, GuidanceNegative = GuidanceNegative.Empty,
    };

    /// <summary>
    /// Stage C: what classifier-free guidance pushes away from. <see cref="GuidanceNegative.Empty"/> (default, the paper):
    /// the empty prompt, ε(∅) + g·(ε(e) − ε(∅)), which strengthens everything the interpolated embedding describes.
    /// <see cref="GuidanceNegative.Reconstruction"/>: e_opt, ε(e_opt) + g·(ε(e) − ε(e_opt)), which strengthens only the
    /// change from the embedding that reconstructs the input; at η = 0 both branches are the same and the step is
    /// ε(e_opt). Not in the paper; see docs/imagic-tuning.md.
    /// </summary>
    [JsonPropertyName("guidance_negative")] public GuidanceNegative GuidanceNegative { get; init; }

    /// <summary>
    /// Stage C: the fraction of the sampling steps, from the first, at which every η attends with the self-attention
    /// queries and keys of the η = 0 reconstruction (<see cref="AttentionSharing"/>), which keeps the input's layout. 0
    /// (default, the paper): none. The recording is held in memory: at Stable Diffusion 1.5's 512 px about 185 MB a shared
    /// step with guidance (half without), so 0.5 of 50 steps holds about 4.6 GB.
    /// </summary>
    [JsonPropertyName("share_attention")] public double ShareAttention { get; init; }

    /// <summary>The sampling steps of <see cref="ShareAttention"/>: fraction × steps, rounded half up.</summary>
    [JsonIgnore]
    public int SharedAttentionSteps => (int)Math.Round(ShareAttention * SamplingSteps, MidpointRounding.AwayFromZero);

    /// <summary>Whether stage C at <paramref name="eta"/> starts from the input's inversion rather than the seed's noise.</summary>
    public bool StartsFromInversion(double eta) =>
        SamplingStart == SamplingStart.Inversion && !(NoiseFromEta is double from && eta >= from);

    /// <summary>
    /// Stage C: Forgedit's forgetting (Zhang et al., 2023, §3.4): which half of the fine-tuned UNet each η samples with
    /// moved back toward its pretrained weights, by min(η, 1). <see cref="UNetHalf.None"/> (default, the paper) keeps the
    /// whole fine-tuned UNet; <see cref="UNetHalf.Decoder"/> lets the text change appearance that stage B fitted into the
    /// decoder, <see cref="UNetHalf.Encoder"/> the layout. η = 0 still samples with the whole fine-tuned UNet, so it still
    /// reconstructs the input. Forgedit forgets a half outright at every η; scaling by η is this project's.
    /// </summary>
    [JsonPropertyName("forget")] public UNetHalf Forget { get; init; }

    /// <summary>
    /// Stage C: how fast <see cref="Forget"/> sets in, p in (0, 10]: each η forgets by min(η, 1)^p. 1 (default) is linear
    /// in η; above 1 small η keep more of the fine-tuned half (closer to the input) while η ≥ 1 still forgets it all.
    /// </summary>
    [JsonPropertyName("forget_power")] public double ForgetPower { get; init; } = 1;

    /// <summary>How far toward the pretrained half η samples with: min(η, 1)^<see cref="ForgetPower"/>.</summary>
    public double ForgetWeight(double eta) => Math.Pow(Math.Min(Math.Max(eta, 0), 1), ForgetPower);

    /// <summary>
    /// Stage C: <see cref="EditMaskMode.Auto"/> keeps the input's own pixels outside the region where e_tgt and e_opt
    /// disagree (<see cref="EditMask"/>, DiffEdit's estimate); <see cref="EditMaskMode.None"/> (default, the paper) returns
    /// the sampled image as it is.
    /// </summary>
    [JsonPropertyName("mask")] public EditMaskMode Mask { get; init; }

    /// <summary>Stage C: DDIM sampling steps. Default 50.</summary>
    [JsonPropertyName("sampling_steps")] public int SamplingSteps { get; init; } = 50;

    /// <summary>Stage C: classifier-free guidance scale against the empty prompt. Default 7.5.</summary>
    [JsonPropertyName("guidance_scale")] public double GuidanceScale { get; init; } = 7.5;

    /// <summary>
    /// Stage C: guidance rescale φ in [0, 1] (Lin et al., 2023; diffusers' <c>guidance_rescale</c>), against the
    /// over-saturation of high guidance scales. Default 0 (plain guidance).
    /// </summary>
    [JsonPropertyName("guidance_rescale")] public double GuidanceRescale { get; init; }

    /// <summary>
    /// Stage C: the η at which guidance reaches <see cref="GuidanceScale"/> s. Below it the scale ramps from 1:
    /// 1 + (s − 1)·min(η / ramp, 1), so η = 0 samples unguided, as stage B fitted it, and gives the input back; small η
    /// make small changes. Null (default): s at every η. Not in the paper; see docs/imagic-tuning.md.
    /// </summary>
    [JsonPropertyName("guidance_ramp")] public double? GuidanceRamp { get; init; }

    /// <summary>Stage C's guidance scale at <paramref name="eta"/> (<see cref="GuidanceRamp"/>).</summary>
    public double GuidanceAt(double eta) =>
        GuidanceRamp is double ramp ? 1 + (GuidanceScale - 1) * Math.Min(eta / ramp, 1) : GuidanceScale;

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

    /// <summary>
    /// The largest <see cref="ForgetPower"/> accepted. At 10, η 0.9 forgets by 0.35 and η 0.7 by 0.03: past that every
    /// η below 1 keeps almost all of the fine-tuned half, so a larger power is a typo, not a setting.
    /// </summary>
    public const double MaxForgetPower = 10;

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
        if (EmbeddingBatch < 1 || FinetuneBatch < 1)
            throw new ImagicException($"Stage A and B batches must be ≥ 1, got {EmbeddingBatch} and {FinetuneBatch}.");
        if (!Enum.IsDefined(TimestepSampling)) throw new ImagicException($"Unknown timestep sampling {TimestepSampling}.");
        if (!Enum.IsDefined(InputLatents)) throw new ImagicException($"Unknown input latents {InputLatents}.");
        if (!Enum.IsDefined(SamplingStart)) throw new ImagicException($"Unknown sampling start {SamplingStart}.");
        if (NoiseFromEta is double noiseFrom && !(noiseFrom is >= 0 and <= MaxEta))
            throw new ImagicException($"noise_from_eta must be between 0 and {MaxEta}, got {noiseFrom}.");
        if (GuidanceRamp is double ramp && !(ramp > 0 && ramp <= MaxEta))
            throw new ImagicException($"guidance_ramp must be above 0 and at most {MaxEta}, got {ramp}.");
        if (!(ShareAttention is >= 0 and <= 1)) throw new ImagicException($"share_attention (--share-attention) must be a fraction of the sampling steps in [0, 1], got {ShareAttention}.");
        if (!Enum.IsDefined(Forget)) throw new ImagicException($"Unknown UNet half to forget {Forget}.");
        if (!Enum.IsDefined(GuidanceNegative)) throw new ImagicException($"Unknown guidance negative {GuidanceNegative}.");
        if (!(ForgetPower > 0 && ForgetPower <= MaxForgetPower))
            throw new ImagicException($"forget_power must be in (0, {MaxForgetPower}], got {ForgetPower}.");
        if (!(DdimEta is >= 0 and <= 1)) throw new ImagicException($"DDIM η must be in [0, 1], got {DdimEta}.");
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
    public SamplingOptions Sampling => new() { Steps = SamplingSteps, GuidanceScale = GuidanceScale, GuidanceRescale = GuidanceRescale, Eta = DdimEta };

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

    /// <summary>
    /// These options with the properties of the JSON object in <paramref name="path"/> (the keys of
    /// <c>imagic_defaults.json</c>) laid over them; keys the file does not name keep their values here.
    /// </summary>
    public ImagicOptions Overlay(string path)
    {
        try
        {
            var overlay = ParseJsonFile(path) as JsonObject ?? throw new ImagicException($"{path} must hold a JSON object of Imagic settings.");
            return Overlay(overlay, path);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"{path} is not a readable JSON file of Imagic settings: {e.Message}", e);
        }
    }

    /// <summary>A JSON file as a node, read as <c>imagic_defaults.json</c> is: comments and trailing commas allowed.</summary>
    internal static JsonNode? ParseJsonFile(string path) =>
        JsonNode.Parse(File.ReadAllText(path), documentOptions: new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });

    /// <summary>These options with the properties of <paramref name="overlay"/> laid over them; <paramref name="source"/> names it in errors.</summary>
    public ImagicOptions Overlay(JsonObject overlay, string source)
    {
        var merged = JsonNode.Parse(ToJson())!.AsObject();
        var known = merged.Select(kv => kv.Key).ToHashSet();
        foreach (var (key, value) in overlay)
        {
            if (!known.Contains(key))
                throw new ImagicException($"{source}: unknown Imagic setting '{key}'.");
            merged[key] = value?.DeepClone();
        }
        try
        {
            var result = FromJson(merged.ToJsonString());
            result.Validate();
            return result;
        }
        catch (JsonException e)
        {
            throw new ImagicException($"{source}: {e.Message}", e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ImagicOptions FromJson(string json) => JsonSerializer.Deserialize<ImagicOptions>(json, Json)!;
}

/// <summary>How a training stage draws each step's timesteps.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TimestepStrategy>))]
public enum TimestepStrategy
{
    /// <summary>Independent uniform draws over [0, T): the paper.</summary>
    [JsonStringEnumMemberName("uniform")] Uniform,

    /// <summary>One draw from each of B equal strata of [0, T) for a batch of B.</summary>
    [JsonStringEnumMemberName("stratified")] Stratified,
}

/// <summary>Which latents of the input the training stages fit.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LatentEncoding>))]
public enum LatentEncoding
{
    /// <summary>A sample of the VAE posterior, drawn from the edit's seed.</summary>
    [JsonStringEnumMemberName("sample")] Sample,

    /// <summary>The VAE posterior's mean.</summary>
    [JsonStringEnumMemberName("mean")] Mean,
}

/// <summary>What stage C's classifier-free guidance pushes away from (<see cref="ImagicOptions.GuidanceNegative"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GuidanceNegative>))]
public enum GuidanceNegative
{
    /// <summary>The empty prompt's embedding, as in the paper.</summary>
    [JsonStringEnumMemberName("empty")] Empty,

    /// <summary>e_opt, the embedding that reconstructs the input: guidance strengthens only the edit's direction.</summary>
    [JsonStringEnumMemberName("reconstruction")] Reconstruction,
}

/// <summary>What stage C starts sampling from.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SamplingStart>))]
public enum SamplingStart
{
    /// <summary>Gaussian noise drawn from the sample's seed, as in the paper.</summary>
    [JsonStringEnumMemberName("noise")] Noise,

    /// <summary>
    /// The input's DDIM inversion under the fine-tuned model and e_opt: the noise that stage C at η = 0 maps back to the
    /// input, so the edit keeps the input's layout. Deterministic: every seed gives the same start.
    /// </summary>
    [JsonStringEnumMemberName("inversion")] Inversion,
}
