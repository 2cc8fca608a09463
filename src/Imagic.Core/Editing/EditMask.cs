using System.Text.Json.Serialization;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>Stage C: whether the output keeps the input's pixels outside the region the edit changes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EditMaskMode>))]
public enum EditMaskMode
{
    /// <summary>The sampled image as it is: the paper.</summary>
    [JsonStringEnumMemberName("none")] None,

    /// <summary>
    /// <see cref="EditMask"/>: the region where e_tgt and e_opt disagree is estimated, and outside it the output is the
    /// input's own pixels. Not in the paper.
    /// </summary>
    [JsonStringEnumMemberName("auto")] Auto,
}

/// <summary>
/// Where an edit may change the image, and the composite that keeps the input everywhere else.
/// </summary>
/// <remarks>
/// The estimate is DiffEdit's (Couairon et al., ICLR 2023, §3.1) with Imagic's own two embeddings in place of a source and
/// a target caption: the input's latents z₀ are noised to t = <see cref="Strength"/>·T with <see cref="Maps"/> noises, the
/// fine-tuned UNet predicts the noise under e_tgt and under e_opt, and the mean absolute difference over channels and
/// noises is a map of where the target text pulls away from the input. Classifier-free guidance would only scale that
/// difference (the unconditional term cancels), so none is used. The mask is the latent pixels where the map reaches
/// <see cref="Fraction"/> of its maximum: relative to the maximum rather than the mean, so that an edit of the whole
/// background (a map that is high nearly everywhere) gets a mask that covers it.
/// The mask is widened by one latent pixel, enlarged to image size bilinearly and blurred, so that the composite
/// output = m·edited + (1 − m)·input has no seam; outside it the output is the input bit for bit, whatever the VAE
/// or the fine-tuned model can reconstruct.
/// </remarks>
public static class EditMask
{
    /// <summary>Noises averaged per map (DiffEdit uses 10).</summary>
    public const int Maps = 8;

    /// <summary>The noise level of the estimate, as a fraction of the training timesteps (DiffEdit's 0.5).</summary>
    public const double Strength = 0.5;

    /// <summary>
    /// The mask is where the difference map reaches this fraction of its maximum. 0.4 kept the most on the quick suite
    /// (against 0.25 and a threshold relative to the mean; docs/imagic-tuning.md).
    /// </summary>
    public const double Fraction = 0.4;

    /// <summary>
    /// The edit region of <paramref name="z0"/> [1, C, h, w] toward <paramref name="eTgt"/> from <paramref name="eOpt"/>:
    /// [1, 1, h, w], 1 inside and 0 outside, under the pipeline's UNet as it is now.
    /// </summary>
    public static Tensor Estimate(StableDiffusionPipeline pipe, Tensor z0, Tensor eTgt, Tensor eOpt, long seed)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var config = pipe.SchedulerConfig;
        var ddpm = new DdpmScheduler(config);
        long t = (long)Math.Round(Strength * (config.NumTrainTimesteps - 1));
        using var generator = new Generator(unchecked((ulong)seed), pipe.Device);
        int perBatch = (int)Math.Max(1, InterpolationSampling.MaxBatchPixels / (z0.shape[2] * z0.shape[3]));
        var sum = torch.zeros(new[] { 1L, 1, z0.shape[2], z0.shape[3] }, device: z0.device);
        for (int done = 0; done < Maps; done += perBatch)
        {
            int n = Math.Min(perBatch, Maps - done);
            var noise = torch.randn(new[] { n, z0.shape[1], z0.shape[2], z0.shape[3] }, device: z0.device, generator: generator);
            using var tValue = t.ToScalar();
            var timesteps = torch.full(new long[] { n }, tValue, dtype: ScalarType.Int64, device: z0.device);
            var noisy = ddpm.AddNoise(z0.expand(n, -1, -1, -1), noise, timesteps);
            var toTarget = pipe.UNet.Forward(noisy, timesteps, eTgt.expand(n, -1, -1));
            var toInput = pipe.UNet.Forward(noisy, timesteps, eOpt.expand(n, -1, -1));
            sum.PlusInPlace((toTarget - toInput).abs().mean(new long[] { 1 }, keepdim: true).sum(0, keepdim: true));
        }
        // Explicit, disposed Scalars: an implicitly converted one can be freed while libtorch reads it (TensorExtensions).
        using var maps = ((double)Maps).ToScalar();
        var map = sum.div(maps);
        float max = map.max().item<float>();
        if (max <= 0) // the two embeddings agree: nothing to edit
            return torch.zeros_like(map).MoveToOuterDisposeScope();
        using var threshold = (max * Fraction).ToScalar();
        return map.ge(threshold).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="edited"/> [N, 3, H, W] inside the (widened, smoothed) <paramref name="mask"/> [1, 1, h, w] and
    /// <paramref name="input"/> [1, 3, H, W] outside it.
    /// </summary>
    public static Tensor Composite(Tensor edited, Tensor input, Tensor mask)
    {
        using var scope = torch.NewDisposeScope();
        input = input.to(edited.device);
        var soft = Weights(mask.to(edited.device), edited.shape[2], edited.shape[3]);
        var keep = soft.SubtractedFrom(1.0); // 1 − soft, exactly
        return (soft * edited).Plus(keep * input).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The composite's weight of the edited image at each pixel of an image <paramref name="height"/> × <paramref name="width"/>:
    /// <paramref name="mask"/> [1, 1, h, w] widened by one latent pixel, enlarged and blurred, [1, 1, H, W] in [0, 1].
    /// Where it is 0 the composite is the input bit for bit.
    /// </summary>
    public static Tensor Weights(Tensor mask, long height, long width)
    {
        using var scope = torch.NewDisposeScope();
        var wide = nn.functional.max_pool2d(mask, 3, stride: 1, padding: 1);
        var soft = nn.functional.interpolate(wide, new[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false);
        long k = Math.Max(1, height / mask.shape[2]) | 1; // odd, about one latent pixel wide
        using var zero = 0.0.ToScalar();
        using var one = 1.0.ToScalar();
        return nn.functional.avg_pool2d(soft, k, stride: 1, padding: k / 2, count_include_pad: false).clamp(zero, one).MoveToOuterDisposeScope();
    }
}
