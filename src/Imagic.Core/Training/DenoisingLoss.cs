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
    public static Tensor Compute(UNet2DConditionModel unet, DdpmScheduler ddpm, Tensor x0, Tensor context, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        long batch = x0.shape[0];
        var t = torch.randint(0, ddpm.Config.NumTrainTimesteps, new long[] { batch }, dtype: ScalarType.Int64, generator: generator);
        var noise = torch.randn(x0.shape, dtype: x0.dtype, generator: generator);
        var xt = ddpm.AddNoise(x0, noise, t);
        if (context.shape[0] != batch)
            context = context.expand(batch, context.shape[1], context.shape[2]);
        var prediction = unet.Forward(xt, t, context);
        var target = ddpm.Target(ddpm.Config.PredictionType, x0, noise, t);
        return torch.nn.functional.mse_loss(prediction, target).MoveToOuterDisposeScope();
    }
}
