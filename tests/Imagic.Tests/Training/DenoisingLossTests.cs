using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Tests.Models;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Training;

public class DenoisingLossTests
{
    // SD's schedule: scaled_linear from β = 0.00085 to 0.012 over 1000 steps.
    static readonly SchedulerConfig Sd = new() { BetaSchedule = BetaSchedule.ScaledLinear, BetaStart = 0.00085, BetaEnd = 0.012 };

    static double[] Weights(SchedulerConfig config, double gamma, params long[] t) =>
        DenoisingLoss.MinSnrWeights(new DdpmScheduler(config), torch.tensor(t), gamma).data<double>().ToArray();

    [Fact]
    public void MinSnrWeights_CapTheSignalToNoiseRatioAtGamma()
    {
        // t = 0: ᾱ = 1 − β₀, SNR = 0.99915 / 0.00085 ≈ 1175, far above γ = 5.
        double snr0 = (1 - 0.00085) / 0.00085;
        var eps = Weights(Sd, 5, 0, 999);
        Assert.Equal(5 / snr0, eps[0], 6);
        Assert.Equal(1, eps[1], 12); // SNR(999) ≈ 0.005 < γ: the noisiest steps keep their full weight

        var v = Weights(Sd with { PredictionType = PredictionType.VPrediction }, 5, 0, 999);
        Assert.Equal(5 / (snr0 + 1), v[0], 6);
        var alphaBar999 = new DdpmScheduler(Sd).AlphasCumprod[999].item<float>();
        double snr999 = alphaBar999 / (1 - alphaBar999);
        Assert.Equal(snr999 / (snr999 + 1), v[1], 5);
    }

    [Fact]
    public void MinSnrWeights_ZeroTerminalSnr_GivesTheLastStepFullWeightNotNaN()
    {
        var w = Weights(Sd with { RescaleBetasZeroSnr = true }, 5, 999);
        Assert.Equal(1, w[0]);
    }

    [Fact]
    public void Compute_WithAGammaAboveEverySnr_IsThePlainMeanSquaredError()
    {
        // γ beyond the largest SNR makes every ε-prediction weight 1: the same number as the unweighted loss.
        torch.manual_seed(1);
        var unet = new UNet2DConditionModel(Sd2ArchitectureTests.TinyUNet(linear: false, heads: 4));
        var ddpm = new DdpmScheduler(Sd);
        var x0 = torch.randn(3, 4, 8, 8);
        var context = torch.randn(3, 77, 32);
        float Loss(double? gamma)
        {
            using var g = new torch.Generator(9, torch.CPU);
            using var _ = torch.no_grad();
            return DenoisingLoss.Compute(unet, ddpm, x0, context, g, minSnrGamma: gamma).item<float>();
        }

        Assert.Equal(Loss(null), Loss(1e9), 5);
        // The ε-prediction weights are ≤ 1, and < 1 wherever SNR > γ (all but the last few steps for γ = 0.01).
        Assert.True(Loss(5) <= Loss(null) + 1e-6);
        Assert.True(Loss(0.01) < 0.9 * Loss(null));
    }

    [Fact]
    public void MinSnrWeights_NonPositiveGamma_IsAClearError()
    {
        var e = Assert.Throws<ImagicException>(() => Weights(Sd, 0, 10));
        Assert.Contains("γ", e.Message);
        var option = Assert.Throws<ImagicException>(() => new TrainingOptions { MinSnrGamma = -1 }.Validate());
        Assert.Contains("--min-snr-gamma", option.Message);
    }
}
