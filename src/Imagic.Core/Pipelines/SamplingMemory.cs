namespace Imagic.Pipelines;

/// <summary>
/// A rough estimate of the memory that sampling one image needs, from the latent size and the model's widths,
/// so that a size that cannot fit is refused before any work, rather than ending in the kernel's out-of-memory
/// killer with no message.
/// </summary>
/// <remarks>
/// Attention runs through <c>scaled_dot_product_attention</c>, which on the CPU never holds the whole attention
/// matrix (checked on libtorch 2.10: 16384 tokens of width 64 raised the peak by 10 MB, where the matrix alone
/// would be 1 GB), so every term but the first two grows linearly with the number of pixels:
/// <list type="bullet">
/// <item>the weights of the text encoder, UNet and VAE;</item>
/// <item><see cref="RuntimeBytes"/>: the .NET runtime, libtorch and the tokenizer;</item>
/// <item>the UNet under guidance (a batch of two): the skip connections kept for the up path, plus a working set
/// of <see cref="UNetWorkingTensors"/> feature maps at a level with attention (a transformer's feed-forward alone
/// holds 8 channels per model channel) or <see cref="UNetResnetWorkingTensors"/> at a level of resnets only, at
/// whichever level that is largest; scaled by <see cref="UNetOverhead"/>;</item>
/// <item>the VAE decoder: <see cref="VaeWorkingTensors"/> feature maps of its largest level, at full resolution, or at
/// one tile's with <see cref="StableDiffusionPipeline.VaeTiling"/>; scaled by <see cref="DecoderOverhead"/>.</item>
/// </list>
/// UNet and decoder do not run at once, so the larger of the two counts. The overhead factors cover what the count of
/// live feature maps leaves out: libtorch's temporaries, convolution workspaces and the allocator's free blocks.
/// <para>
/// Measured with <c>--measure sampling-memory</c> of <c>bench/Imagic.Benchmarks</c> (a guided generate, 2 threads), the peak
/// resident memory above the loaded model (weights plus runtime, 198 to 204 MB more than the weights), in MB:
/// </para>
/// <code>
/// model            size (w×h)  steps  sampling  decode   peak  estimate  estimate/peak
/// tiny-sd1         512×512        1       253     380     603       950  1.58
/// tiny-sd1         512×512       20       406     335     629       950  1.51
/// tiny-sd1         256×512        1       146     216     440       613  1.39
/// models/shapes    256×256        1       292     172     539     1,120  2.08
/// models/shapes    256×256       20       530     179     776     1,120  1.44
/// models/shapes    256×256       50       768     196   1,015     1,120  1.10
/// models/shapes     64×512       50       352     106     597       710  1.19
/// SD 1.5 (random)  512×512        1       680   1,110   5,375     6,167  1.15
/// SD 1.5 (random)  512×512        6       870   1,156   5,420     6,167  1.14  (--measure sd15 --steps 6)
/// </code>
/// <para>
/// The sampling peak grows with the number of steps, by about one feature map a step (8-12 MB a step on the bundled model
/// at 256²), because some tensors of each step are freed only when the garbage collector finalizes them: with a
/// <c>GC.Collect()</c> after every step the resident set stayed flat. <see cref="UNetOverhead"/> covers the 50-step
/// figure; it could come down to about 5 once every tensor of a step is disposed. Commands, from the repository root:
/// <c>dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure sampling-memory --model ../shared/reference/tiny-sd1
/// --height 512 --width 256 --steps 20</c> (<c>--model models/shapes</c>; <c>--model bench/configs</c> builds SD 1.5 with random
/// weights). It is meant to refuse what cannot fit, with a modest margin, not to predict the peak closely; before this fit
/// it over-estimated SD 1.5 at 512² by 2.7 times (14.3 GB).
/// </para>
/// </remarks>
public static class SamplingMemory
{
    const long FloatBytes = 4;

    /// <summary>Feature maps of a UNet level with attention alive at once.</summary>
    public const int UNetWorkingTensors = 12;

    /// <summary>Feature maps of a UNet level of resnets only alive at once (input, normalised, activated, output).</summary>
    public const int UNetResnetWorkingTensors = 4;

    /// <summary>Feature maps of the largest VAE decoder level alive at once (input, normalised, activated, output).</summary>
    public const int VaeWorkingTensors = 4;

    /// <summary>The process besides weights and activations: runtime, libtorch, tokenizer (198-204 MB measured), rounded up.</summary>
    public const long RuntimeBytes = 256L << 20;

    /// <summary>Measured UNet peak over counted feature maps: 3.6 to 4.3 after one step, 6.0 to 6.5 after 20 and 8.6 to 9.4 after
    /// 50 (see the remarks for why it grows), rounded up.</summary>
    public const double UNetOverhead = 10;

    /// <summary>Measured decoder peak over counted feature maps (1.1 on SD 1.5, 1.5 to 3.4 on the small models, where
    /// fixed costs weigh more), with a margin.</summary>
    public const double DecoderOverhead = 1.8;

    /// <summary>Bytes that sampling a <paramref name="width"/>×<paramref name="height"/> image needs, weights included.</summary>
    /// <param name="guided">True when classifier-free guidance doubles the UNet's batch (any scale but 1).</param>
    public static long EstimateBytes(StableDiffusionPipeline pipe, int height, int width, bool guided = true)
    {
        var (weights, unet, decoder) = EstimateParts(pipe, height, width, guided);
        return weights + RuntimeBytes + (long)Math.Max(UNetOverhead * unet, DecoderOverhead * decoder);
    }

    /// <summary>The terms of <see cref="EstimateBytes"/>: weights, the UNet's feature maps and the decoder's (before the overhead factors).</summary>
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
            int working = unet.DownBlockTypes[level] == "CrossAttnDownBlock2D" ? UNetWorkingTensors : UNetResnetWorkingTensors;
            widest = Math.Max(widest, working * unet.BlockOutChannels[level] * pixels);
        }
        long unetBytes = (guided ? 2 : 1) * (skips + widest) * FloatBytes;

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
