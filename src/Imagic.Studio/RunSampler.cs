using System.Globalization;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Pipelines;
using TorchSharp;

namespace Imagic.Studio;

/// <summary>
/// Stage C on demand: the image of a trained run at one (η, seed), cached on disk in the run folder as
/// <c>samples/cache/eta_0.70_seed_0.png</c>, so a value already seen returns at once.
/// </summary>
/// <remarks>
/// Training fine-tunes its pipeline's UNet in place, so sampling has a pipeline of its own and loads the run's
/// fine-tuned weights into it; that lets finished runs be sampled while another edit trains. One sample is
/// computed at a time, each wholly on one thread, because TorchSharp's dispose scopes belong to a thread.
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

    /// <summary>The file name of one sample, as <c>imagic edit</c> names its sweep images.</summary>
    public static string FileName(double eta, long seed) =>
        string.Create(CultureInfo.InvariantCulture, $"eta_{eta:F2}_seed_{seed}.png");

    /// <summary>The sample, from the cache or from the edit's own sweep, if it was made already.</summary>
    public static string? Cached(string runDir, double eta, long seed)
    {
        var name = FileName(eta, seed);
        foreach (var path in new[] { Path.Combine(runDir, "samples", "cache", name), Path.Combine(runDir, "samples", name) })
            if (File.Exists(path)) return path;
        return null;
    }

    /// <summary>Returns the PNG of run <paramref name="runDir"/> at (η, seed), computing and caching it if needed.</summary>
    /// <exception cref="ImagicException">The run is not trained, or was made with another model.</exception>
    public async Task<(string Path, bool FromCache)> SampleAsync(string runDir, double eta, long seed, CancellationToken cancellation)
    {
        if (Cached(runDir, eta, seed) is string hit) return (hit, true);
        await _gate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (Cached(runDir, eta, seed) is string made) return (made, true); // computed while this request waited
            var path = await Task.Run(() => Compute(runDir, eta, seed, cancellation), cancellation).ConfigureAwait(false);
            return (path, false);
        }
        finally
        {
            _gate.Release();
        }
    }

    string Compute(string runDir, double eta, long seed, CancellationToken cancellation)
    {
        Load(runDir);
        using var scope = torch.NewDisposeScope();
        var image = ImageTensors.ToImage(_editor!.Sample(_session!, [eta], seed, cancellation: cancellation)[0]);
        var path = Path.Combine(runDir, "samples", "cache", FileName(eta, seed));
        ImageIO.SavePng(image, path);
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
        _editor = new ImagicEditor(_pipe, manifest.Options);
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
