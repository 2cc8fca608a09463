using Imagic.Editing;
using Imagic.Imaging;

namespace Imagic.Studio;

/// <summary>The studio's state: its model, its run folders, the training queue and the sampler.</summary>
internal sealed class Studio : IDisposable
{
    public Studio(StudioOptions options, EditQueue queue)
    {
        if (!File.Exists(options.ModelDir) && !File.Exists(Path.Combine(options.ModelDir, "model_index.json")))
            throw new ImagicException($"{Path.GetFullPath(options.ModelDir)} is neither a model folder (it has no model_index.json) " +
                "nor a single-file checkpoint.");
        Options = options with { ModelDir = Path.GetFullPath(options.ModelDir) };
        Recipes = new Recipes(Options.ModelDir);
        Runs = new RunStore(options.RunsDir);
        Queue = queue;
        Sampler = new RunSampler(Options.ModelDir, Options.Loading);
    }

    public StudioOptions Options { get; }
    /// <summary>The recipes a new edit may choose; <c>default</c> is the model's Imagic defaults.</summary>
    public Recipes Recipes { get; }

    public ImagicOptions ModelDefaults => Recipes.Options(Recipes.Default);
    public RunStore Runs { get; }
    public EditQueue Queue { get; }
    public RunSampler Sampler { get; }

    /// <summary>The sample inputs the page offers: the PNG, JPEG and WebP files of <see cref="StudioOptions.SamplesDir"/>.</summary>
    public IReadOnlyList<string> Samples =>
        Options.SamplesDir is string dir && Directory.Exists(dir)
            ? Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>()
                .Where(n => Path.GetExtension(n).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".webp")
                .Order(StringComparer.Ordinal).ToList()
            : Array.Empty<string>();

    /// <summary>The live state of an edit of this server, else the state of its folder; null for an unknown id.</summary>
    public EditState? Describe(string id)
    {
        if (Queue.Find(id) is EditJob job)
            return job.State with { QueuePosition = Queue.PositionOf(job) };
        return Runs.Exists(id) ? Runs.Describe(id) : null;
    }

    /// <summary>Every edit: the queued and running ones of this server, and every run folder on disk; newest first.</summary>
    public IEnumerable<EditState> List()
    {
        var live = Queue.Jobs.Select(j => j.State with { QueuePosition = Queue.PositionOf(j) }).ToList();
        var known = live.Select(s => s.Id).ToHashSet();
        return live.Concat(Runs.Ids().Where(id => !known.Contains(id)).Select(Runs.Describe))
            .OrderByDescending(s => s.Created).ThenByDescending(s => s.Id, StringComparer.Ordinal);
    }

    /// <summary>Queues a new edit of <paramref name="imagePath"/>; the image has been checked to decode.</summary>
    public EditState StartEdit(string id, string imagePath, string prompt, string recipe, ImagicOptions options)
    {
        var dir = Runs.DirOf(id)!;
        var request = new EditRequest(imagePath, prompt, Options.ModelDir, dir, options, FitMode.CenterCrop, SweepSeeds: 1, Options.Loading);
        var state = new EditState(id, prompt, EditState.Queued, "", 0, 0, null, null, null, options.Seed, options.Eta, recipe,
            DateTimeOffset.UtcNow, Mask: options.Mask);
        var job = new EditJob(id, dir, request, state);
        Queue.Enqueue(job);
        return job.State with { QueuePosition = Queue.PositionOf(job) };
    }

    /// <summary>Queues the rest of a stopped run (cancelled, failed or interrupted by a restart) from its checkpoint.</summary>
    public EditState ResumeEdit(string id, EditState stopped)
    {
        var job = new EditJob(id, Runs.DirOf(id)!, null, stopped with { Status = EditState.Queued, Error = null, EtaSeconds = null });
        var (a, b) = ReadLosses(id);
        job.StageALosses.AddRange(a);
        job.StageBLosses.AddRange(b);
        Queue.Replace(job);
        return job.State with { QueuePosition = Queue.PositionOf(job) };
    }

    /// <summary>The loss curves of stages A and B so far.</summary>
    public (double[] A, double[] B) Losses(string id) =>
        Queue.Find(id) is EditJob job ? job.Losses : ReadLosses(id);

    (double[] A, double[] B) ReadLosses(string id)
    {
        var dir = Runs.DirOf(id)!;
        return (ReadLossFile(Path.Combine(dir, "loss_stage_a.csv")), ReadLossFile(Path.Combine(dir, "loss_stage_b.csv")));
    }

    static double[] ReadLossFile(string path)
    {
        if (!File.Exists(path)) return Array.Empty<double>();
        return File.ReadLines(path).Skip(1).Select(l => l.Split(','))
            .Where(f => f.Length == 2)
            .Select(f => double.TryParse(f[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : double.NaN)
            .ToArray();
    }

    public void Dispose() => Sampler.Dispose();
}
