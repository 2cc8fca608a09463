using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Schedulers;

/// <summary>
/// The forward-process schedule shared by every scheduler: β per training step, α = 1 − β and ᾱ = ∏α.
/// </summary>
/// <remarks>
/// Computed exactly as diffusers does (<c>scheduling_ddim.py</c>, <c>__init__</c>): β in float32 through
/// <c>torch.linspace</c>, ᾱ through a float32 <c>torch.cumprod</c>. Doing the same float32 operations in libtorch
/// reproduces diffusers' <c>alphas_cumprod</c> bit for bit, where a float64 computation would drift by ~1e-7.
/// </remarks>
public static class NoiseSchedule
{
    /// <summary>β for each of the <see cref="SchedulerConfig.NumTrainTimesteps"/> steps, float32 on CPU, after the optional zero-SNR rescale.</summary>
    public static Tensor Betas(SchedulerConfig config)
    {
        config.Validate();
        using var scope = torch.NewDisposeScope();
        int n = config.NumTrainTimesteps;
        Tensor betas = config.TrainedBetas is { } trained
            ? torch.tensor(trained, dtype: ScalarType.Float32)
            : config.BetaSchedule switch
            {
                BetaSchedule.Linear => torch.linspace(config.BetaStart, config.BetaEnd, n, dtype: ScalarType.Float32),
                // The "scaled linear" schedule of latent diffusion: linear in √β.
                BetaSchedule.ScaledLinear => torch.linspace(Math.Sqrt(config.BetaStart), Math.Sqrt(config.BetaEnd), n, dtype: ScalarType.Float32).Squared(),
                BetaSchedule.SquaredcosCapV2 => torch.tensor(CosineBetas(n), dtype: ScalarType.Float32),
                _ => throw new ArgumentOutOfRangeException(nameof(config), config.BetaSchedule, "unknown beta schedule"),
            };
        if (config.RescaleBetasZeroSnr)
            betas = RescaleZeroTerminalSnr(betas);
        return betas.MoveToOuterDisposeScope();
    }

    /// <summary>ᾱₜ = ∏ₛ≤ₜ (1 − βₛ), float32 on CPU, one value per training step.</summary>
    public static Tensor AlphasCumprod(SchedulerConfig config)
    {
        using var scope = torch.NewDisposeScope();
        return torch.cumprod(Betas(config).SubtractedFrom(1.0), 0).MoveToOuterDisposeScope();
    }

    /// <summary>ᾱ as managed floats, for the per-step scalar maths of a scheduler.</summary>
    internal static float[] AlphasCumprodValues(SchedulerConfig config)
    {
        using var scope = torch.NewDisposeScope();
        return AlphasCumprod(config).data<float>().ToArray();
    }

    /// <summary>
    /// β from the cosine ᾱ(t) = cos²((t + 0.008) / 1.008 · π/2), in float64 as diffusers' <c>betas_for_alpha_bar</c>,
    /// each capped at 0.999 so the last step does not divide by zero.
    /// </summary>
    static double[] CosineBetas(int n)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new double[n];
        for (int i = 0; i < n; i++)
            betas[i] = Math.Min(1 - AlphaBar((i + 1) / (double)n) / AlphaBar(i / (double)n), 0.999);
        return betas;
    }

    /// <summary>
    /// Shifts and scales √ᾱ so that the last step has ᾱ = 0 (pure noise) while the first keeps its value.
    /// </summary>
    /// <remarks>Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1.</remarks>
    static Tensor RescaleZeroTerminalSnr(Tensor betas)
    {
        var sqrtAlphaBar = torch.cumprod(betas.SubtractedFrom(1.0), 0).sqrt();
        var first = sqrtAlphaBar[0].clone();
        var last = sqrtAlphaBar[-1].clone();
        sqrtAlphaBar = (sqrtAlphaBar - last) * (first / (first - last));
        var alphaBar = sqrtAlphaBar.Squared();
        // Undo the cumulative product: α₀ = ᾱ₀, αₜ = ᾱₜ / ᾱₜ₋₁.
        var alphas = torch.cat([alphaBar[..1], alphaBar[1..] / alphaBar[..^1]], 0);
        return alphas.SubtractedFrom(1.0);
    }
}
