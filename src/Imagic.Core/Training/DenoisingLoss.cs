using Imagic.Models;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// The diffusion training objective that every training stage shares (Ho et al., 2020, eq. 14):
/// draw t ~ U{0..T−1} and ε ~ N(0, I), noise the clean sample to x_t, and regress the UNet's output
/// onto ε (or onto v for v-prediction models).
/// </summary>
public static class DenoisingLoss
{
    /// <summary>Mean squared error of one noised batch; timesteps and noise come from <paramref name="generator"/>.</summary>
    /// <param name="x0">Clean latents (or pixels) [B, C, H, W].</param>
    /// <param name="context">Text embeddings [B, 77, D] (or [1, 77, D], broadcast over the batch).</param>
    /// <param name="timesteps">How t is drawn; default uniform over all training timesteps.</param>
    /// <param name="minSnrGamma">If set, Min-SNR-γ weighting (see <see cref="MinSnrWeights"/>); default: the plain mean.</param>
    public static Tensor Compute(UNet2DConditionModel unet, DdpmScheduler ddpm, Tensor x0, Tensor context, Generator generator,
        TimestepSampling? timesteps = null, double? minSnrGamma = null)
    {
        using var scope = torch.NewDisposeScope();
        long batch = x0.shape[0];
        var t = (timesteps ?? TimestepSampling.Uniform).Draw(batch, ddpm.Config.NumTrainTimesteps, generator, x0.device);
        var noise = torch.randn(x0.shape, dtype: x0.dtype, device: x0.device, generator: generator);
        var xt = ddpm.AddNoise(x0, noise, t);
        if (context.shape[0] != batch)
            context = context.expand(batch, context.shape[1], context.shape[2]);
        var prediction = unet.Forward(xt, t, context);
        var target = ddpm.Target(ddpm.Config.PredictionType, x0, noise, t);
        if (minSnrGamma is not double gamma)
            return torch.nn.functional.mse_loss(prediction, target).MoveToOuterDisposeScope();
        var perSample = (prediction - target).Squared().mean(new long[] { 1, 2, 3 });
        return (perSample * MinSnrWeights(ddpm, t, gamma).to(perSample.dtype)).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Min-SNR-γ loss weights (Hang et al., ICCV 2023): each timestep's loss is scaled so that it counts as if
    /// its signal-to-noise ratio SNR(t) = ᾱ_t / (1 − ᾱ_t) were capped at γ: min(SNR, γ) / SNR for ε-prediction,
    /// min(SNR, γ) / (SNR + 1) for v-prediction, min(SNR, γ) for x₀-prediction. The easy low-noise steps stop
    /// dominating the gradient, which the paper found speeds convergence about threefold (γ = 5).
    /// </summary>
    public static Tensor MinSnrWeights(DdpmScheduler ddpm, Tensor timesteps, double gamma)
    {
        if (gamma <= 0) throw new ImagicException($"The Min-SNR γ must be > 0, got {gamma}.");
        var alphaBar = ddpm.AlphasCumprod.to(ScalarType.Float64).index_select(0, timesteps);
        var snr = alphaBar / alphaBar.SubtractedFrom(1);
        var capped = snr.ClampMax(gamma);
        return ddpm.Config.PredictionType switch
        {
            // Written as min(γ / SNR, 1) so that a zero-terminal-SNR step (SNR = 0) gets weight 1, not 0 / 0.
            PredictionType.Epsilon => snr.Dividing(gamma).ClampMax(1),
            PredictionType.VPrediction => capped / snr.Plus(1),
            _ => capped,
        };
    }
}

/// <summary>
/// Where training timesteps come from: uniform over [0, T), except that a share of each batch draws from the
/// noisiest end [<see cref="HighNoiseStart"/>, T) instead.
/// </summary>
/// <remarks>
/// A text-to-image model learns where to put an object only at the noisiest steps, where the object cannot be
/// seen in x_t yet; below them x_t already shows it and the caption's position word adds nothing. For the shapes
/// model those steps are t ≥ ~920 of 1000, 8 % of a uniform draw (see <see cref="Evaluation.CaptionSensitivity"/>).
/// </remarks>
/// <param name="Stratified">
/// Draw a batch of B timesteps one from each of B equal strata of [0, T): t_k = ⌊(k + u_k)·T/B⌋ with u_k ~ U[0, 1).
/// Every batch then covers the whole noise range, so a few (t, ε) pairs per step give a far less noisy gradient
/// than B independent draws (the low-discrepancy sampler of Kingma et al., "Variational Diffusion Models", 2021,
/// uses one shared offset; independent offsets per stratum are as unbiased). Ignores the high-noise share.
/// </param>
public sealed record TimestepSampling(double HighNoiseShare = 0, int HighNoiseStart = 0, bool Stratified = false)
{
    public static readonly TimestepSampling Uniform = new();

    /// <summary>One timestep per stratum of [0, T) (see <see cref="Stratified"/>).</summary>
    public static readonly TimestepSampling StratifiedUniform = new(Stratified: true);

    /// <param name="device">Where the timesteps are created: the generator's device. Default: the CPU.</param>
    public Tensor Draw(long batch, int numTrainTimesteps, Generator generator, Device? device = null)
    {
        if (Stratified)
        {
            var offsets = torch.rand(new long[] { batch }, dtype: ScalarType.Float64, device: device, generator: generator);
            var strata = TensorExtensions.Arange(batch, ScalarType.Float64, device);
            return strata.Plus(offsets).Times(numTrainTimesteps / (double)batch).floor().ClampTo(0, numTrainTimesteps - 1).to(ScalarType.Int64);
        }
        var uniform = torch.randint(0, numTrainTimesteps, new long[] { batch }, dtype: ScalarType.Int64, device: device, generator: generator);
        if (HighNoiseShare <= 0) return uniform;
        if (HighNoiseStart < 0 || HighNoiseStart >= numTrainTimesteps)
            throw new ImagicException($"The high-noise range must start inside the scheduler's 0…{numTrainTimesteps - 1} timesteps, got {HighNoiseStart}.");
        var high = torch.randint(HighNoiseStart, numTrainTimesteps, new long[] { batch }, dtype: ScalarType.Int64, device: device, generator: generator);
        using var share = HighNoiseShare.ToScalar();
        var pick = torch.rand(new long[] { batch }, device: device, generator: generator).lt(share);
        return torch.where(pick, high, uniform);
    }
}
