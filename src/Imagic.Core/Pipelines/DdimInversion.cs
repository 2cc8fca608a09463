using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Pipelines;

/// <summary>DDIM run backwards: from an image's clean latents to the noise that DDIM sampling maps back to them.</summary>
public static class DdimInversion
{
    /// <summary>
    /// Deterministic DDIM inversion of clean latents <paramref name="z0"/> to the noise latents at the first
    /// timestep of a <paramref name="steps"/>-step DDIM schedule, conditioned (unguided) on <paramref name="cond"/>.
    /// Sampling the result with the same prompt, guidance 1 and the same steps approximately returns <paramref name="z0"/>.
    /// </summary>
    /// <remarks>
    /// The inverse of eq. (12) of Song et al. with η = 0: x_t = √ᾱ_t·x̂₀ + √(1 − ᾱ_t)·ε̂, where
    /// x̂₀ = (x_{t−Δ} − √(1 − ᾱ_{t−Δ})·ε̂)/√ᾱ_{t−Δ} and ε̂ is the model's noise at (x_{t−Δ}, t), as in
    /// diffusers' <c>DDIMInverseScheduler</c> and Null-text inversion's <c>next_step</c>.
    /// v-prediction models are converted to ε with x_{t−Δ} standing in for x_t.
    /// </remarks>
    public static Tensor Invert(StableDiffusionPipeline pipe, Tensor z0, Tensor cond, int steps, CancellationToken cancellation = default)
    {
        var config = pipe.SchedulerConfig;
        if (config.PredictionType == PredictionType.Sample)
            throw new ImagicException("DDIM inversion needs an epsilon- or v-prediction model; this one predicts x₀.");
        var scheduler = new DdimScheduler(config);
        scheduler.SetTimesteps(steps);
        var timesteps = scheduler.Timesteps;
        float[] alphas;
        using (var ac = scheduler.AlphasCumprod) alphas = ac.data<float>().ToArray();
        float final = config.SetAlphaToOne ? 1f : alphas[0];
        int delta = config.NumTrainTimesteps / steps;

        using var _ = torch.no_grad();
        var z = z0.clone().DetachFromDisposeScope();
        for (int i = timesteps.Length - 1; i >= 0; i--)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            long t = timesteps[i], prev = t - delta;
            float alphaT = alphas[t], alphaPrev = prev >= 0 ? alphas[prev] : final;
            var output = pipe.GuidedModelOutput(z, t, cond, cond, 1.0);
            var eps = config.PredictionType == PredictionType.VPrediction
                ? output.Times(MathF.Sqrt(alphaT)).Plus(z.Times(MathF.Sqrt(1 - alphaT)))
                : output;
            var x0 = (z - eps.Times(MathF.Sqrt(1 - alphaPrev))).Over(MathF.Sqrt(alphaPrev));
            var next = x0.Times(MathF.Sqrt(alphaT)).Plus(eps.Times(MathF.Sqrt(1 - alphaT)));
            z.Dispose();
            z = next.DetachFromDisposeScope();
            Training.NonFinite.CheckOutput(z, $"DDIM inversion step {timesteps.Length - i} of {timesteps.Length} (t = {t})", "check the model's weights");
        }
        return z;
    }
}
