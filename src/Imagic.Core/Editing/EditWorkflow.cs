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
public sealed record SweepResult(string Dir, string GridPath, IReadOnlyList<string> ImagePaths);

/// <summary>
/// The whole edit as the CLI runs it: prepare the input, train stages A and B with checkpoints in a run
/// folder, and sample an η sweep. Kept out of the CLI so tests drive exactly what users run.
/// </summary>
public static class EditWorkflow
{
    /// <summary>Starts a new edit run in <see cref="EditRequest.OutDir"/> and runs it to the end.</summary>
    public static (EditRun Run, SweepResult Sweep) Start(EditRequest request, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, Action<string>? log = null)
    {
        request.Options.Validate();
        if (string.IsNullOrWhiteSpace(request.TargetText))
            throw new ImagicException("The prompt is empty: describe the edited image, e.g. \"a photo of a dog standing\".");
        if (request.SweepSeeds < 1)
            throw new ImagicException($"--seeds must be at least 1, got {request.SweepSeeds}.");
        // Read the image before creating anything, so a bad input leaves no folder behind.
        var original = ImageIO.Load(request.ImagePath);
        using var pipe = StableDiffusionPipeline.Load(request.ModelDir, request.Loading);
        if (log is not null) pipe.Warn = log;
        int size = pipe.DefaultResolution;
        var fitted = ImageIO.Fit(original, size, size, request.Fit);

        var run = EditRun.Create(request.OutDir);
        var manifest = new EditRun.Manifest(pipe.ModelDir, ModelFingerprint.Compute(pipe.ModelDir), request.TargetText,
            Path.GetFullPath(request.ImagePath), request.Options, "running", EditStage.EmbeddingOptimization.ToString(), 0,
            EditRun.ProjectVersion);
        using var editor = new ImagicEditor(pipe, request.Options);
        using var image = ImageTensors.ToTensor(fitted);
        using var session = editor.Start(image, request.TargetText);
        run.SaveInputs(session);
        run.WriteManifest(manifest);
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
        var seeds = Enumerable.Range(0, sweepSeeds).Select(i => manifest.Options.Seed + i).ToArray();
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
        Directory.CreateDirectory(outDir);
        var rows = new List<IReadOnlyList<RgbImage>>();
        var paths = new List<string>();
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
                ImageIO.SavePng(image, path);
                paths.Add(path);
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
        return new SweepResult(outDir, gridPath, paths);
    }

    /// <summary>
    /// <c>imagic sample</c>: stage C alone from a trained run folder, with no retraining. Writes into a new
    /// <c>sweep-N</c> subfolder so earlier sweeps are never overwritten.
    /// </summary>
    public static SweepResult SampleFromRun(string dir, IReadOnlyList<double> etas, int seedCount, long? firstSeed = null,
        int? steps = null, double? guidance = null, double? guidanceRescale = null, string? modelDir = null, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, PipelineLoadOptions? loading = null)
    {
        var run = EditRun.Open(dir);
        var manifest = run.ReadManifest();
        if (manifest.Status != "trained")
            throw new ImagicException($"{dir} has not finished training (status: {manifest.Status}); finish it with 'imagic edit --resume {dir}'.");
        string model = modelDir ?? manifest.ModelPath;
        if (!Path.Exists(model) || ModelFingerprint.Compute(model) != manifest.ModelFingerprint)
            throw new ImagicException($"{dir} was made with the model at {manifest.ModelPath}; pass --model with that same model.");
        if (etas.Count == 0) throw new ImagicException("--eta needs at least one value.");
        if (seedCount < 1) throw new ImagicException($"--seeds must be at least 1, got {seedCount}.");
        using var pipe = StableDiffusionPipeline.Load(model, loading);
        var options = manifest.Options with
        {
            SamplingSteps = steps ?? manifest.Options.SamplingSteps,
            GuidanceScale = guidance ?? manifest.Options.GuidanceScale,
            GuidanceRescale = guidanceRescale ?? manifest.Options.GuidanceRescale,
        };
        using var editor = new ImagicEditor(pipe, options);
        using var session = run.LoadSession(pipe.UNet);
        long seed0 = firstSeed ?? manifest.Options.Seed;
        var seeds = Enumerable.Range(0, seedCount).Select(i => seed0 + i).ToArray();
        int n = 1;
        while (Directory.Exists(Path.Combine(run.Dir, $"sweep-{n}"))) n++;
        return SampleSweep(run, editor, session, etas, seeds, Path.Combine(run.Dir, $"sweep-{n}"), progress, cancellation);
    }
}
