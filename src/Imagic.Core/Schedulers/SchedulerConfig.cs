using System.Text.Json;
using System.Text.Json.Serialization;

namespace Imagic.Schedulers;

/// <summary>How β grows over the training timesteps (<c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: β evenly spaced from beta_start to beta_end (DDPM).</summary>
    Linear,
    /// <summary><c>scaled_linear</c>: √β evenly spaced, then squared (Stable Diffusion).</summary>
    ScaledLinear,
    /// <summary><c>squaredcos_cap_v2</c>: the cosine schedule of Nichol &amp; Dhariwal (2021), β capped at 0.999.</summary>
    SquaredcosCapV2,
}

/// <summary>What the denoising model predicts (<c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the added noise ε (SD 1.x, SD 2.x base).</summary>
    Epsilon,
    /// <summary><c>v_prediction</c>: v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans &amp; Ho 2022; SD 2.x 768).</summary>
    VPrediction,
    /// <summary><c>sample</c>: the clean sample x₀ itself.</summary>
    Sample,
}

/// <summary>How inference timesteps are picked from the training ones (<c>timestep_spacing</c>; see Lin et al. 2023, table 2).</summary>
public enum TimestepSpacing
{
    /// <summary><c>leading</c>: 0, r, 2r, … with r = N / steps (integer division), plus <c>steps_offset</c>.</summary>
    Leading,
    /// <summary><c>trailing</c>: N − 1, N − 1 − r, … with r = N / steps (real division), rounded.</summary>
    Trailing,
    /// <summary><c>linspace</c>: steps values evenly spaced over [0, N − 1], rounded half to even.</summary>
    Linspace,
}

/// <summary>
/// The contents of a diffusers <c>scheduler_config.json</c>. Property names are the JSON keys in PascalCase;
/// defaults are those of diffusers' <c>DDIMScheduler</c>, so an old config that lacks a key behaves as there.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>Number of diffusion steps the model was trained with. Default 1000.</summary>
    public int NumTrainTimesteps { get; init; } = 1000;
    /// <summary>First β. Default 0.0001 (SD uses 0.00085).</summary>
    public double BetaStart { get; init; } = 0.0001;
    /// <summary>Last β. Default 0.02 (SD uses 0.012).</summary>
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>Default <see cref="Schedulers.BetaSchedule.Linear"/> (SD uses scaled_linear).</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;
    /// <summary>Explicit β per training step; when set it overrides the schedule. Default null.</summary>
    public double[]? TrainedBetas { get; init; }
    /// <summary>Default <see cref="Schedulers.PredictionType.Epsilon"/>.</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;
    /// <summary>Clamp the predicted x₀ to ±<see cref="ClipSampleRange"/>. Default true (SD sets false).</summary>
    public bool ClipSample { get; init; } = true;
    /// <summary>Default 1.0.</summary>
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>Use ᾱ = 1 before the first step (true) or ᾱ₀ of step 0 (false). Default true (SD sets false).</summary>
    public bool SetAlphaToOne { get; init; } = true;
    /// <summary>Added to every <see cref="TimestepSpacing.Leading"/> timestep. Default 0 (SD uses 1).</summary>
    public int StepsOffset { get; init; }
    /// <summary>Default <see cref="Schedulers.TimestepSpacing.Leading"/>.</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;
    /// <summary>Dynamic thresholding (Imagen). Parsed but not implemented: a scheduler rejects true. Default false.</summary>
    public bool Thresholding { get; init; }
    /// <summary>Quantile for dynamic thresholding. Default 0.995.</summary>
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    /// <summary>Upper bound for dynamic thresholding. Default 1.0.</summary>
    public double SampleMaxValue { get; init; } = 1.0;
    /// <summary>Rescale β so the last step has zero SNR (Lin et al. 2023, algorithm 1). Default false.</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

    /// <summary>Reads a <c>scheduler_config.json</c>; keys this project does not use (<c>_class_name</c>, …) are ignored.</summary>
    /// <exception cref="ImagicException">The file is missing, is not valid JSON, or holds an unknown or out-of-range value.</exception>
    public static SchedulerConfig FromFile(string path)
    {
        if (!File.Exists(path))
            throw new ImagicException($"Scheduler config not found: {path}");
        SchedulerConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<SchedulerConfig>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new ImagicException($"{path}: invalid scheduler config ({e.Message})", e);
        }
        if (config is null)
            throw new ImagicException($"{path}: the scheduler config is null");
        config.Validate(path);
        return config;
    }

    /// <summary>Serialises to diffusers' <c>scheduler_config.json</c> form (snake_case keys), as a DDIMScheduler.</summary>
    public string ToJson()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(this, JsonOptions))!.AsObject();
        node.Insert(0, "_class_name", "DDIMScheduler");
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Throws <see cref="ImagicException"/> if a value cannot describe a noise schedule.</summary>
    public void Validate(string source = "scheduler config")
    {
        if (NumTrainTimesteps < 1)
            throw new ImagicException($"{source}: num_train_timesteps must be positive, got {NumTrainTimesteps}");
        if (TrainedBetas is not null && TrainedBetas.Length != NumTrainTimesteps)
            throw new ImagicException($"{source}: trained_betas holds {TrainedBetas.Length} values but num_train_timesteps is {NumTrainTimesteps}");
        if (TrainedBetas is null && BetaSchedule != BetaSchedule.SquaredcosCapV2 && !(BetaStart > 0 && BetaEnd >= BetaStart && BetaEnd < 1))
            throw new ImagicException($"{source}: need 0 < beta_start ≤ beta_end < 1, got {BetaStart} and {BetaEnd}");
    }
}
