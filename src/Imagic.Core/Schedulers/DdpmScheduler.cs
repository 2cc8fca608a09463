using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Schedulers;

/// <summary>
/// The training side of DDPM: the forward process q(xₜ | x₀) and the regression targets a denoiser learns.
/// Imagic's fine-tuning stage uses it to noise latents at random timesteps.
/// </summary>
/// <remarks>
/// Ho et al. 2020, "Denoising Diffusion Probabilistic Models", eq. (4); v-prediction from Salimans &amp; Ho 2022,
/// "Progressive Distillation", section 4. Mirrors diffusers' <c>DDPMScheduler.add_noise</c> and <c>get_velocity</c>.
/// The scheduler holds no native tensors, so it needs no disposal.
/// </remarks>
public sealed class DdpmScheduler
{
    readonly float[] _alphasCumprod;

    public DdpmScheduler(SchedulerConfig config)
    {
        Config = config;
        _alphasCumprod = NoiseSchedule.AlphasCumprodValues(config);
    }

    /// <summary>Reads <c>scheduler_config.json</c> with <see cref="SchedulerConfig.FromFile"/>.</summary>
    public static DdpmScheduler FromFile(string path) => new(SchedulerConfig.FromFile(path));

    public SchedulerConfig Config { get; }

    /// <summary>ᾱ for every training step: a new float32 CPU tensor [NumTrainTimesteps], owned by the caller's dispose scope.</summary>
    public Tensor AlphasCumprod => torch.tensor(_alphasCumprod);

    /// <summary>xₜ = √ᾱₜ · x₀ + √(1 − ᾱₜ) · ε, with one timestep per batch element (or one for all).</summary>
    /// <param name="originalSamples">x₀ [B, …].</param>
    /// <param name="noise">ε, the shape of x₀.</param>
    /// <param name="timesteps">Integer timesteps [B] or a single one, each in [0, NumTrainTimesteps).</param>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        using var scope = torch.NewDisposeScope();
        var (sqrtAlphaProd, sqrtOneMinusAlphaProd) = Coefficients(timesteps, originalSamples);
        return (sqrtAlphaProd * originalSamples).Plus(sqrtOneMinusAlphaProd * noise).MoveToOuterDisposeScope();
    }

    /// <summary>v = √ᾱₜ · ε − √(1 − ᾱₜ) · x₀, the target of a v-prediction model; same arguments as <see cref="AddNoise"/>.</summary>
    public Tensor GetVelocity(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        using var scope = torch.NewDisposeScope();
        var (sqrtAlphaProd, sqrtOneMinusAlphaProd) = Coefficients(timesteps, originalSamples);
        return (sqrtAlphaProd * noise - sqrtOneMinusAlphaProd * originalSamples).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What a model of the given prediction type should output for xₜ = <see cref="AddNoise"/>(x₀, ε, t):
    /// ε for epsilon, v for v_prediction, x₀ for sample. The result never aliases an argument.
    /// </summary>
    public Tensor Target(PredictionType predictionType, Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        predictionType switch
        {
            PredictionType.Epsilon => noise.clone(),
            PredictionType.VPrediction => GetVelocity(originalSamples, noise, timesteps),
            PredictionType.Sample => originalSamples.clone(),
            _ => throw new ArgumentOutOfRangeException(nameof(predictionType), predictionType, null),
        };

    /// <summary>√ᾱₜ and √(1 − ᾱₜ) shaped [B, 1, 1, …] to broadcast over <paramref name="like"/>, in its dtype and device.</summary>
    (Tensor, Tensor) Coefficients(Tensor timesteps, Tensor like)
    {
        var alphasCumprod = torch.tensor(_alphasCumprod, device: like.device).to_type(like.dtype);
        var alphaProd = alphasCumprod.index_select(0, timesteps.flatten().to(ScalarType.Int64, like.device));
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return (alphaProd.sqrt().view(shape), alphaProd.SubtractedFrom(1).sqrt().view(shape));
    }
}
