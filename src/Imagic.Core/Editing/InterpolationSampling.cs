using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Stage C of Imagic (Kawar et al., CVPR 2023, §3.1, eq. 4): e = η·e_tgt + (1 − η)·e_opt, sampled with the
/// (fine-tuned) UNet by DDIM with classifier-free guidance against the empty prompt (or e_opt, <see cref="Negative"/>).
/// One sampling run serves a whole list of η values from one noise, as a batch; <c>imagic edit</c>,
/// <c>imagic sample</c> and the benchmark all sample through it, so they give the same images for the same η list,
/// noise and settings.
/// </summary>
public sealed class InterpolationSampling : IDisposable
{
    /// <summary>Latent pixels (batch × h × w) sampled in one batch: 4096, all of a sweep at 16×16, one at a time at SD's 64×64.</summary>
    public const int MaxBatchPixels = 4096;

    readonly StableDiffusionPipeline _pipe;
    readonly Tensor _uncond;

    public SamplingOptions Options { get; }

    /// <param name="guidanceAt">The guidance scale at each η (<see cref="ImagicOptions.GuidanceAt"/>); default:
    /// <see cref="SamplingOptions.GuidanceScale"/> at every η.</param>
    /// <param name="negative">What guidance pushes away from (<see cref="ImagicOptions.GuidanceNegative"/>).</param>
    public InterpolationSampling(StableDiffusionPipeline pipe, SamplingOptions options, Func<double, double>? guidanceAt = null,
        GuidanceNegative negative = GuidanceNegative.Empty)
    {
        _pipe = pipe;
        Options = options;
        Negative = negative;
        _guidanceAt = guidanceAt ?? (_ => options.GuidanceScale);
        _uncond = pipe.EncodePrompt("").DetachFromDisposeScope();
    }

    readonly Func<double, double> _guidanceAt;

    /// <summary>
    /// When set, the next sampling run is recorded and every later one replays its self-attention
    /// (<see cref="AttentionSharing"/>); null (default): plain sampling.
    /// </summary>
    public AttentionSharing? Sharing { get; set; }

    /// <summary>The empty prompt's embedding, [1, 77, D]: what guidance pushes away from unless <see cref="Negative"/> says e_opt.</summary>
    public Tensor Unconditional => _uncond;

    /// <summary>What guidance pushes away from: the empty prompt or e_opt.</summary>
    public GuidanceNegative Negative { get; }

    /// <summary>e = η·e_tgt + (1 − η)·e_opt.</summary>
    public static Tensor Interpolate(Tensor eTgt, Tensor eOpt, double eta) => eTgt.Times(eta).Plus(eOpt.Times(1 - eta));

    /// <summary>
    /// The starting noise of seed <paramref name="seed"/>: a standard normal of <paramref name="shape"/> ([1, C, h, w]),
    /// drawn on <paramref name="device"/> (seeds reproduce per device).
    /// </summary>
    public static Tensor Noise(long[] shape, long seed, Device device)
    {
        using var generator = new Generator(unchecked((ulong)seed), device);
        return torch.randn(shape, device: device, generator: generator);
    }

    /// <summary>
    /// Samples every η of <paramref name="etas"/> from the same <paramref name="noise"/> [1, C, h, w]; returns clean
    /// latents [N, C, h, w] in the order of <paramref name="etas"/>. Batches of at most <see cref="MaxBatchPixels"/>
    /// latent pixels bound the memory at large sizes.
    /// </summary>
    /// <param name="generator">Draws DDIM's per-step noise when <see cref="SamplingOptions.Eta"/> &gt; 0; unused otherwise.</param>
    public Tensor SampleLatents(Tensor eTgt, Tensor eOpt, IReadOnlyList<double> etas, Tensor noise, Generator? generator = null,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (etas.Count == 0) throw new ImagicException("Stage C needs at least one η.");
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        int perBatch = (int)Math.Max(1, MaxBatchPixels / (noise.shape[2] * noise.shape[3]));
        var chunks = new List<Tensor>();
        for (int start = 0; start < etas.Count; start += perBatch)
        {
            var chunk = etas.Skip(start).Take(perBatch).ToArray();
            var cond = torch.cat(chunk.Select(eta => Interpolate(eTgt, eOpt, eta)).ToArray());
            var batchNoise = noise.expand(chunk.Length, -1, -1, -1).contiguous();
            using var sharing = Sharing is null ? null : Sharing.HasRecording ? Sharing.Replay(chunk.Length) : Sharing.Record();
            chunks.Add(_pipe.Sample(cond, Negative == GuidanceNegative.Reconstruction ? eOpt : _uncond, batchNoise, Options, generator, progress, cancellation,
                guidanceScales: chunk.Select(_guidanceAt).ToArray()));
        }
        var latents = torch.cat(chunks).MoveToOuterDisposeScope();
        foreach (var c in chunks) c.Dispose(); // Sample's results belong to no dispose scope
        return latents;
    }

    public void Dispose() => _uncond.Dispose();
}
