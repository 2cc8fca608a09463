using System.Globalization;
using Imagic.Imaging;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>What <c>imagic edit</c> is asked to do.</summary>
/// <param name="SweepSeeds">Rows of the η sweep grid written at the end (seeds Seed … Seed+N−1).</param>
public sealed record EditRequest(string ImagePath, string TargetText, string ModelDir, string OutDir,
    ImagicOptions Options, FitMode Fit = FitMode.CenterCrop, int SweepSeeds = 1, PipelineLoadOptions? Loading = null);

/// <summary>The images of one η sweep.</summary>
/// <param name="FlatImages">Those of <paramref name="ImagePaths"/> that came out as one flat colour from an input that is not
/// (<see cref="ImageSpread.LostThePicture"/>): failed edits, which the tools name instead of handing over silently.</param>
public sealed record SweepResult(string Dir, string GridPath, IReadOnlyList<string> ImagePaths, IReadOnlyList<string> FlatImages)
{
    /// <summary>A one-line warning naming the flat images, or null when there are none.</summary>
    public string? FlatWarning() => FlatImages.Count == 0 ? null :
        $"{FlatImages.Count} of {ImagePaths.Count} image(s) came out as one flat colour, so those edits failed: " +
        $"{string.Join(", ", FlatImages.Take(4).Select(Path.GetFileName))}{(FlatImages.Count > 4 ? ", ..." : "")}. " +
        "Try a lower η or --guidance, or --start noise.";
}

/// <summary>
/// The whole edit as the CLI runs it: prepare the input, train stages A and B with checkpoints in a run
/// folder, and sample an η sweep. Kept out of the CLI so tests drive exactly what users run.
/// </summary>
public static class EditWorkflow
{
    /// <summary>The most rows (seeds) an η sweep grid may have.</summary>
    public const int MaxSweepSeeds = 100;

    /// <summary>Starts a new edit run in <see cref="EditRequest.OutDir"/> and runs it to the end.</summary>
    /// <param name="created">Called with the run once its folder exists, after every input was checked.</param>
    public static (EditRun Run, SweepResult Sweep) Start(EditRequest request, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, Action<string>? log = null, Action<EditRun>? created = null)
    {
        // Check everything before creating anything, so a bad input leaves no folder behind and no
        // mistake surfaces after hours of training.
        request.Options.Validate();
        if (string.IsNullOrWhiteSpace(request.TargetText))
            throw new ImagicException("The prompt is empty: describe the edited image, e.g. \"a photo of a dog standing\".");
        SweepSeeds(request.Options.Seed, request.SweepSeeds);
        EditRun.CheckCanCreate(request.OutDir);
        var original = ImageIO.Load(request.ImagePath);
        using var pipe = StableDiffusionPipeline.Load(request.ModelDir, request.Loading);
        if (log is not null) pipe.Warn = log;
        pipe.CheckSamplingOptions(request.Options.Sampling);
        int size = pipe.DefaultResolution;
        var fitted = ImageIO.Fit(original, size, size, request.Fit);

        var run = EditRun.Create(request.OutDir);
        created?.Invoke(run);
        var manifest = new EditRun.Manifest(pipe.ModelDir, ModelFingerprint.Compute(pipe.ModelDir), request.TargetText,
            Path.GetFullPath(request.ImagePath), request.Options, "running", EditStage.EmbeddingOptimization.ToString(), 0,
            EditRun.ProjectVersion);
        using var editor = new ImagicEditor(pipe, request.Options);
        using var image = ImageTensors.ToTensor(fitted);
        using var session = editor.Start(image, request.TargetText);
        run.SaveInputs(session);
        // The ceiling of η = 0, checked before training so that an input the model cannot represent is named up front.
        var ceiling = VaeCeiling.Measure(pipe, session.Latents, fitted);
        string roundTripPath = run.PathOf(EditRun.VaeRoundTripFile);
        ImageIO.SavePng(ceiling.RoundTrip, roundTripPath);
        manifest = manifest with { VaeRoundTripPsnr = ceiling.Psnr };
        run.WriteManifest(manifest);
        if (VaeCeiling.Warning(ceiling.Psnr, roundTripPath) is string warning) log?.Invoke(warning);
        return Continue(run, pipe, editor, session, manifest, request.SweepSeeds, progress, cancellation);
    }

    /// <summary>Continues an interrupted run from its last checkpoint; the result equals an uninterrupted run.</summary>
    public static (EditRun Run, SweepResult Sweep) Resume(string dir, string? modelDir = null, int sweepSeeds = 1,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, Action<string>? log = null,
        PipelineLoadOptions? loading = null)
    {
        var run = EditRun.Open(dir);
        var manifest = run.ReadManifest();
        string model = modelDir ?? manifest.ModelPath;
        if (!Path.Exists(model))
            throw new ImagicException($"The run was made with the model at {manifest.ModelPath}, which no longer exists; pass --model with the same model.");
        string fingerprint = ModelFingerprint.Compute(model);
        if (fingerprint != manifest.ModelFingerprint)
            throw new ImagicException($"{dir} was made with a different model ({manifest.ModelPath}); resume it with that model.");
        using var pipe = StableDiffusionPipeline.Load(model, loading);
        if (log is not null) pipe.Warn = log;
        pipe.CheckSamplingOptions(manifest.Options.Sampling);
        SweepSeeds(manifest.Options.Seed, sweepSeeds);
        using var editor = new ImagicEditor(pipe, manifest.Options);
        using var session = run.LoadSession(pipe.UNet);
        return Continue(run, pipe, editor, session, manifest, sweepSeeds, progress, cancellation);
    }

    static (EditRun, SweepResult) Continue(EditRun run, StableDiffusionPipeline pipe, ImagicEditor editor, EditSession session,
        EditRun.Manifest manifest, int sweepSeeds, IProgress<StepProgress>? progress, CancellationToken cancellation)
    {
        editor.Checkpoint = (s, state) => run.SaveCheckpoint(s, state, manifest);
        if (session.Stage != EditStage.Done)
        {
            editor.Train(session, progress, cancellation);
            run.SaveResult(session, pipe.UNet, manifest);
        }
        var seeds = SweepSeeds(manifest.Options.Seed, sweepSeeds);
        var sweep = SampleSweep(run, editor, session, manifest.Options.EtaSweep, seeds, Path.Combine(run.Dir, "samples"),
            progress, cancellation);
        return (run, sweep);
    }

    /// <summary>
    /// Stage C for every (η, seed): writes <c>eta_0.70_seed_0.png</c> images and a labelled grid with η
    /// across and seeds down, the view users pick η from.
    /// </summary>
    public static SweepResult SampleSweep(EditRun run, ImagicEditor editor, EditSession session, IReadOnlyList<double> etas,
        IReadOnlyList<long> seeds, string outDir, IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        var rows = new List<IReadOnlyList<RgbImage>>();
        var paths = new List<string>();
        var flat = new List<string>();
        var input = ImageTensors.ToImage(session.InputImage);
        int done = 0, total = etas.Count * seeds.Count;
        foreach (var seed in seeds)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var images = editor.Sample(session, etas, seed, cancellation: cancellation);
            var row = new List<RgbImage>();
            for (int i = 0; i < etas.Count; i++)
            {
                var image = ImageTensors.ToImage(images[i]);
                string path = Path.Combine(outDir, string.Create(CultureInfo.InvariantCulture, $"eta_{etas[i]:F2}_seed_{seed}.png"));
                Directory.CreateDirectory(outDir); // only once there is an image to put in it
                ImageIO.SavePng(image, path);
                paths.Add(path);
                if (ImageSpread.LostThePicture(image, input)) flat.Add(path);
                row.Add(image);
            }
            done += etas.Count;
            progress?.Report(new StepProgress("stage C (η sweep)", done, total));
            rows.Add(row);
        }
        var grid = ImageGrid.Compose(rows,
            etas.Select(e => string.Create(CultureInfo.InvariantCulture, $"η={e:0.0#}")).ToList(),
            seeds.Select(s => $"seed {s}").ToList(), minCellSize: 128);
        string gridPath = Path.Combine(outDir, "grid.png");
        ImageIO.SavePng(grid, gridPath);
        return new SweepResult(outDir, gridPath, paths, flat);
    }

    /// <summary>
    /// <c>imagic sample</c>: stage C alone from a trained run folder, with no retraining. Writes into a new
    /// <c>sweep-N</c> subfolder so earlier sweeps are never overwritten.
    /// </summary>
    /// <param name="overrides">Stage C settings to sample with instead of the run's own.</param>
    public static SweepResult SampleFromRun(string dir, IReadOnlyList<double> etas, int seedCount, long? firstSeed = null,
        StageCOverrides? overrides = null, string? modelDir = null, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, PipelineLoadOptions? loading = null)
    {
        overrides ??= new StageCOverrides();
        // What is asked for here is checked first, before the run is read.
        overrides.ApplyTo(new ImagicOptions { SamplingSteps = 1, GuidanceScale = 1, EtaSweep = etas.ToArray() }).Validate();
        SweepSeeds(firstSeed ?? 0, seedCount);
        var run = EditRun.Open(dir);
        var manifest = run.ReadManifest();
        if (manifest.Status != "trained")
            throw new ImagicException($"{dir} has not finished training (status: {manifest.Status}); finish it with 'imagic edit --resume {dir}'.");
        string model = modelDir ?? manifest.ModelPath;
        if (!Path.Exists(model) || ModelFingerprint.Compute(model) != manifest.ModelFingerprint)
            throw new ImagicException($"{dir} was made with the model at {manifest.ModelPath}; pass --model with that same model.");
        var options = overrides.ApplyTo(manifest.Options) with { EtaSweep = etas.ToArray() };
        options.Validate();
        var seeds = SweepSeeds(firstSeed ?? manifest.Options.Seed, seedCount);
        using var pipe = StableDiffusionPipeline.Load(model, loading);
        pipe.CheckSamplingOptions(options.Sampling);
        using var editor = new ImagicEditor(pipe, options);
        using var session = run.LoadSession(pipe.UNet);
        int n = 1;
        while (Directory.Exists(Path.Combine(run.Dir, $"sweep-{n}"))) n++;
        return SampleSweep(run, editor, session, etas, seeds, Path.Combine(run.Dir, $"sweep-{n}"), progress, cancellation);
    }

    /// <summary>The seeds of the grid's rows, <paramref name="first"/> … first + count − 1; refuses a count out of range or seeds past <see cref="long.MaxValue"/>.</summary>
    static long[] SweepSeeds(long first, int count)
    {
        if (count is < 1 or > MaxSweepSeeds)
            throw new ImagicException($"--seeds must be between 1 and {MaxSweepSeeds} (rows of the grid), got {count}.");
        if (first > long.MaxValue - (count - 1))
            throw new ImagicException($"--seed {first} with --seeds {count} runs past the largest seed ({long.MaxValue}); choose a smaller --seed.");
        return Enumerable.Range(0, count).Select(i => first + i).ToArray();
    }
}

/// <summary>Stage C settings that <c>imagic sample</c> may change on a trained run; null keeps the run's own.</summary>
public sealed record StageCOverrides
{
    public int? Steps { get; init; }
    public double? Guidance { get; init; }
    public double? GuidanceRescale { get; init; }
    public SamplingStart? Start { get; init; }

    /// <summary><see cref="ImagicOptions.NoiseFromEta"/>; a negative value turns it off (every η from <see cref="Start"/>).</summary>
    public double? NoiseFromEta { get; init; }

    /// <summary><see cref="ImagicOptions.GuidanceRamp"/>; a negative value turns it off (the full scale at every η).</summary>
    public double? GuidanceRamp { get; init; }

    /// <summary>
    /// <paramref name="current"/> with <paramref name="given"/> laid over it, as <see cref="NoiseFromEta"/> and
    /// <see cref="GuidanceRamp"/> read: null keeps it, a negative value turns it off, anything else replaces it.
    /// </summary>
    public static double? EtaOrOffOver(double? given, double? current) =>
        given is double value ? (value < 0 ? null : value) : current;
    public Models.UNetHalf? Forget { get; init; }
    public EditMaskMode? Mask { get; init; }

    /// <summary><see cref="ImagicOptions.GuidanceNegative"/>: what guidance pushes away from.</summary>
    public GuidanceNegative? GuidanceNegative { get; init; }

    /// <summary><see cref="ImagicOptions.ShareAttention"/>: the fraction of the steps that share η = 0's self-attention.</summary>
    public double? ShareAttention { get; init; }

    /// <summary><paramref name="options"/> with every setting given here in place of its own.</summary>
    public ImagicOptions ApplyTo(ImagicOptions options) => options with
    {
        SamplingSteps = Steps ?? options.SamplingSteps,
        GuidanceScale = Guidance ?? options.GuidanceScale,
        GuidanceRescale = GuidanceRescale ?? options.GuidanceRescale,
        SamplingStart = Start ?? options.SamplingStart,
        NoiseFromEta = EtaOrOffOver(NoiseFromEta, options.NoiseFromEta),
        GuidanceRamp = EtaOrOffOver(GuidanceRamp, options.GuidanceRamp),
        Forget = Forget ?? options.Forget,
        Mask = Mask ?? options.Mask,
        ShareAttention = ShareAttention ?? options.ShareAttention,
        GuidanceNegative = GuidanceNegative ?? options.GuidanceNegative,
    };
}
