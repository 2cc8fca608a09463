namespace Imagic.Pipelines;

/// <summary>
/// A rough estimate of the memory that sampling one image needs, from the latent size and the model's widths,
/// so that a size that cannot fit is refused before any work, rather than ending in the kernel's out-of-memory
/// killer with no message.
/// </summary>
/// <remarks>
/// Attention runs through <c>scaled_dot_product_attention</c>, which on the CPU never holds the whole attention
/// matrix (checked on libtorch 2.10: 16384 tokens of width 64 raised the peak by 10 MB, where the matrix alone
/// would be 1 GB), so every term grows linearly with the number of pixels:
/// <list type="bullet">
/// <item>the weights of the text encoder, UNet and VAE;</item>
/// <item>the UNet under guidance (a batch of two): the skip connections kept for the up path, plus a working set
/// of <see cref="UNetWorkingTensors"/> feature maps of the widest level (a transformer's feed-forward alone
/// holds 8 channels per model channel);</item>
/// <item>the VAE decoder: <see cref="VaeWorkingTensors"/> feature maps of its largest level, at full resolution, or at
/// one tile's with <see cref="StableDiffusionPipeline.VaeTiling"/>.</item>
/// </list>
/// UNet and decoder do not run at once, so the larger of the two counts. That count of live feature maps falls
/// short of the measured peak resident memory by 7 to 10 times (libtorch's temporaries, convolution workspaces
/// and the allocator), so the activations are scaled by <see cref="MeasuredOverhead"/>. Measured peaks above the
/// loaded model, with one sampling step on one thread: tiny-sd1 at 512² 1.5 GB (UNet) and 2.4 GB (decoder),
/// at 512×256 0.8 and 1.3 GB; the bundled model at 256² 1.3 GB, at 512×64 0.66 GB. The estimate is at or above
/// each. It is meant to refuse what cannot fit at all, not to predict the peak closely.
/// </remarks>
public static class SamplingMemory
{
    const long FloatBytes = 4;

    /// <summary>Feature maps of the widest UNet level alive at once.</summary>
    public const int UNetWorkingTensors = 12;

    /// <summary>Feature maps of the largest VAE decoder level alive at once (input, normalised, activated, output).</summary>
    public const int VaeWorkingTensors = 4;

    /// <summary>Measured peak over counted feature maps (7 to 10 on the models above), rounded up.</summary>
    public const int MeasuredOverhead = 10;

    /// <summary>Bytes that sampling a <paramref name="width"/>×<paramref name="height"/> image needs, weights included.</summary>
    /// <param name="guided">True when classifier-free guidance doubles the UNet's batch (any scale but 1).</param>
    public static long EstimateBytes(StableDiffusionPipeline pipe, int height, int width, bool guided = true)
    {
        var (weights, unet, decoder) = EstimateParts(pipe, height, width, guided);
        return weights + MeasuredOverhead * Math.Max(unet, decoder);
    }

    /// <summary>The terms of <see cref="EstimateBytes"/>: weights, the UNet's feature maps and the decoder's (before the overhead factor).</summary>
    public static (long Weights, long UNet, long Decoder) EstimateParts(StableDiffusionPipeline pipe, int height, int width, bool guided = true)
    {
        long weights = new TorchSharp.torch.nn.Module[] { pipe.TextEncoder, pipe.UNet }
            .Concat(pipe.Vae is null ? [] : [pipe.Vae])
            .Sum(m => m.parameters().Sum(p => p.numel())) * FloatBytes;

        int f = pipe.VaeScaleFactor;
        long h = height / f, w = width / f;
        var unet = pipe.UNet.Config;
        long skips = 0, widest = 0;
        for (int level = 0; level < unet.BlockOutChannels.Length; level++)
        {
            long pixels = Halved(h, level) * Halved(w, level);
            skips += (unet.LayersPerBlock + 1L) * unet.BlockOutChannels[level] * pixels;
            widest = Math.Max(widest, unet.BlockOutChannels[level] * pixels);
        }
        long unetBytes = (guided ? 2 : 1) * (skips + UNetWorkingTensors * widest) * FloatBytes;

        long decoderBytes = 0;
        if (pipe.Vae is not null)
        {
            // Level 0 is full resolution; each level also holds the upsampled output of the level below it. With tiling the
            // decoder sees one tile at a time.
            if (pipe.VaeTiling is VaeTiling tiling)
            {
                int tile = tiling.LatentTile(pipe.Vae) * f;
                (height, width) = (Math.Min(height, tile), Math.Min(width, tile));
            }
            var channels = pipe.Vae.Config.BlockOutChannels;
            long largest = 0;
            for (int level = 0; level < channels.Length; level++)
            {
                long c = Math.Max(channels[level], level + 1 < channels.Length ? channels[level + 1] : 0);
                largest = Math.Max(largest, c * Halved(height, level) * Halved(width, level));
            }
            decoderBytes = VaeWorkingTensors * largest * FloatBytes;
        }
        return (weights, unetBytes, decoderBytes);
    }

    static long Halved(long size, int times) => (size + (1L << times) - 1) >> times;

    /// <summary>"850 MB", "1.2 GB" or "2.3 TB".</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 40 => FormattableString.Invariant($"{bytes / (double)(1L << 40):0.#} TB"),
        >= 1L << 30 => FormattableString.Invariant($"{bytes / (double)(1L << 30):0.#} GB"),
        _ => $"{Math.Max(1, bytes >> 20)} MB",
    };

    /// <summary>The memory of this machine (or of its container limit), which a request must fit in.</summary>
    public static long MachineBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
}
