using System.Globalization;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Pipelines;
using TorchSharp;

namespace Imagic.Studio;

/// <summary>
/// Stage C on demand: the image of a trained run at one (η, seed), with or without the edit mask, cached on disk in the
/// run folder as <c>samples/cache/eta_0.70_seed_0.png</c> (<c>eta_0.70_seed_0_mask.png</c> with the mask), so a value
/// already seen returns at once.
/// </summary>
/// <remarks>
/// Training fine-tunes its pipeline's UNet in place, so sampling has a pipeline of its own and loads the run's
/// fine-tuned weights into it; that lets finished runs be sampled while another edit trains. One sample is
/// computed at a time, each wholly on one thread, because TorchSharp's dispose scopes belong to a thread.
/// The mask does not need retraining: each request passes its own <see cref="EditMaskMode"/> to
/// <see cref="ImagicEditor.Sample"/>, which composites with the run's edit region, estimated once when first needed and
/// kept while the run stays loaded, so the images are those of <c>imagic sample</c> with the same mask.
/// </remarks>
internal sealed class RunSampler : IDisposable
{
    readonly SemaphoreSlim _gate = new(1, 1);
    readonly string _modelDir;
    readonly PipelineLoadOptions? _loading;
    readonly Lazy<string> _fingerprint;
    StableDiffusionPipeline? _pipe;
    string? _loadedRun;
    EditSession? _session;
    ImagicEditor? _editor;
    bool _pipeHoldsARun; // some run's fine-tuned weights have replaced the pretrained ones in _pipe's UNet

    public RunSampler(string modelDir, PipelineLoadOptions? loading = null)
    {
        _modelDir = modelDir;
        _loading = loading;
        _fingerprint = new Lazy<string>(() => ModelFingerprint.Compute(modelDir));
    }

    /// <summary>The file of the run's edit region in its cache: <see cref="EditMask.Weights"/> as grey levels, white where it may change.</summary>
    public const string RegionFile = "edit_region.png";

    /// <summary>
    /// The file name of one sample: as <c>imagic edit</c> names its sweep images, with <c>_mask</c> before the extension
    /// when the mask is on.
    /// </summary>
    public static string FileName(double eta, long seed, EditMaskMode mask = EditMaskMode.None) =>
        string.Create(CultureInfo.InvariantCulture, $"eta_{eta:F2}_seed_{seed}{(mask == EditMaskMode.Auto ? "_mask" : "")}.png");

    /// <summary>The sample, from the cache or from the edit's own sweep (if the run's own mask is <paramref name="mask"/>), if it was made already.</summary>
    public static string? Cached(string runDir, double eta, long seed, EditMaskMode mask)
    {
        var cached = Path.Combine(runDir, "samples", "cache", FileName(eta, seed, mask));
        if (File.Exists(cached)) return cached;
        var swept = Path.Combine(runDir, "samples", FileName(eta, seed));
        return File.Exists(swept) && EditRun.Open(runDir).ReadManifest().Options.Mask == mask ? swept : null;
    }

    /// <summary>
    /// Returns the PNG of run <paramref name="runDir"/> at (η, seed) with <paramref name="mask"/> (whatever the run's own),
    /// computing and caching it if needed.
    /// </summary>
    /// <exception cref="ImagicException">The run is not trained, or was made with another model.</exception>
    public async Task<(string Path, bool FromCache)> SampleAsync(string runDir, double eta, long seed, EditMaskMode mask,
        CancellationToken cancellation)
    {
        if (Cached(runDir, eta, seed, mask) is string hit) return (hit, true);
        return await Serialized(() => Cached(runDir, eta, seed, mask), () => ComputeSample(runDir, eta, seed, mask, cancellation),
            cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Returns the PNG of run <paramref name="runDir"/>'s edit region (<see cref="RegionFile"/>, the input's size: white where
    /// a sample with the mask may differ from the input, black where it is the input's pixels), computing it if needed.
    /// </summary>
    /// <exception cref="ImagicException">The run is not trained, or was made with another model.</exception>
    public async Task<(string Path, bool FromCache)> RegionAsync(string runDir, CancellationToken cancellation)
    {
        var path = Path.Combine(runDir, "samples", "cache", RegionFile);
        if (File.Exists(path)) return (path, true);
        return await Serialized(() => File.Exists(path) ? path : null, () => ComputeRegion(runDir, path), cancellation)
            .ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="compute"/> alone on a thread of its own, unless <paramref name="cached"/> finds the file made while this call waited.</summary>
    async Task<(string Path, bool FromCache)> Serialized(Func<string?> cached, Func<string> compute, CancellationToken cancellation)
    {
        await _gate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (cached() is string made) return (made, true);
            var path = await Task.Run(compute, cancellation).ConfigureAwait(false);
            return (path, false);
        }
        finally
        {
            _gate.Release();
        }
    }

    string ComputeSample(string runDir, double eta, long seed, EditMaskMode mask, CancellationToken cancellation)
    {
        Load(runDir);
        using var scope = torch.NewDisposeScope();
        var images = _editor!.Sample(_session!, [eta], seed, cancellation: cancellation, mask: mask);
        var path = Path.Combine(runDir, "samples", "cache", FileName(eta, seed, mask));
        ImageIO.SavePng(ImageTensors.ToImage(images[0]), path);
        return path;
    }

    string ComputeRegion(string runDir, string path)
    {
        Load(runDir);
        using var scope = torch.NewDisposeScope();
        var input = _session!.InputImage;
        int height = (int)input.shape[2], width = (int)input.shape[3];
        var weights = EditMask.Weights(_editor!.EditRegion(_session).to(input.device), height, width).cpu().contiguous().data<float>().ToArray();
        var pixels = new byte[weights.Length * 3];
        for (int i = 0; i < weights.Length; i++)
        {
            // At least grey level 1 wherever the weight is not 0, so that black means exactly the input's pixels.
            byte grey = weights[i] > 0 ? (byte)Math.Clamp(Math.Round(weights[i] * 255.0), 1, 255) : (byte)0;
            pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = grey;
        }
        ImageIO.SavePng(new RgbImage(width, height, pixels), path);
        return path;
    }

    void Load(string runDir)
    {
        if (_loadedRun == runDir) return;
        var run = EditRun.Open(runDir);
        var manifest = run.ReadManifest();
        if (manifest.Status != "trained")
            throw new ImagicException($"{Path.GetFileName(runDir)} has not finished training (status: {manifest.Status}).");
        if (manifest.ModelFingerprint != _fingerprint.Value)
            throw new ImagicException($"{Path.GetFileName(runDir)} was made with another model ({manifest.ModelPath}); " +
                $"sample it with 'imagic sample {runDir} --model <that model>'.");
        _session?.Dispose();
        _session = null;
        _editor?.Dispose();
        _editor = null;
        _loadedRun = null;
        // With forgetting, the editor copies that half's pretrained weights, so it needs a UNet that no run has replaced yet.
        if (_pipeHoldsARun && manifest.Options.Forget != Models.UNetHalf.None)
        {
            _pipe!.Dispose();
            _pipe = null;
        }
        if (_pipe is null)
        {
            _pipe = StableDiffusionPipeline.Load(_modelDir, _loading);
            _pipeHoldsARun = false;
        }
        _editor = new ImagicEditor(_pipe, manifest.Options); // each request says whether to use the mask (ComputeSample)
        // Every UNet weight is replaced by the run's fine-tuned one, whatever run was loaded before.
        _pipeHoldsARun = true;
        _session = run.LoadSession(_pipe.UNet);
        _loadedRun = runDir;
    }

    public void Dispose()
    {
        _session?.Dispose();
        _editor?.Dispose();
        _pipe?.Dispose();
        _gate.Dispose();
    }
}
