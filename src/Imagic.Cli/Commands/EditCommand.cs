using System.CommandLine;
using System.Globalization;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Training;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic edit</c>: the full Imagic edit (stages A, B and C) with a run folder and η sweep.</summary>
internal static class EditCommand
{
    public static Command Create()
    {
        var image = new Option<string?>("--image", "-i") { Description = "The photo to edit (PNG, JPEG or WebP). It is never modified." };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The target text: a description of the edited image, e.g. \"a photo of a dog standing\"." };
        var output = new Option<string?>("--out", "-o") { Description = "New or empty folder for the edit run. Default: runs/<time>-<prompt>." };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its folder; the result equals an uninterrupted run." };
        var fit = CommonOptions.Fit();
        var recipe = CommonOptions.Recipe(
            "Named Imagic settings, applied before the options below: 'paper' (the paper's Stable Diffusion settings, the " +
            "default for a model without imagic_defaults.json) or 'fast' (this project's, at most 1/5 of the paper's training " +
            "compute). Default: the model's own defaults.");
        var overrides = new ImagicOverrides();
        var seeds = new Option<int>("--seeds") { Description = "Rows (seeds) of the sweep grid.", DefaultValueFactory = _ => 1 };
        var threads = CommonOptions.Threads();

        var command = new Command("edit",
            "Edit a photo by text with Imagic: (A) optimise a text embedding that reconstructs the photo, (B) fine-tune the model on it, " +
            "(C) interpolate towards the target text and sample an η sweep.\n" +
            "Defaults follow the paper's Stable Diffusion settings unless the model folder ships imagic_defaults.json (the bundled model does).\n" +
            "Examples:\n  imagic edit --image samples/red-circle.png --prompt \"a large blue circle in the center\"\n" +
            "  imagic edit --image dog.jpg --prompt \"a photo of a dog standing\" --model ~/models/stable-diffusion-v1-5 --recipe fast\n" +
            "  imagic edit --resume runs/20261123-212000-a-dog-standing")
        {
            image, prompt, output, resume, fit, recipe,
        };
        foreach (var option in overrides.All.Append(seeds).Append(threads))
            command.Options.Add(option);
        var loading = ModelLoadOptions.AddTo(command);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            Action<string> warn = m => Console.Error.WriteLine($"warning: {m}");
            CommonOptions.ApplyThreads(result, threads);
            (EditRun Run, SweepResult Sweep) outcome;
            if (result.GetValue(resume) is string resumeDir)
            {
                if (result.GetValue(image) is not null || result.GetValue(prompt) is not null)
                    throw new ImagicException("--resume continues a run with its own image and prompt; do not pass --image or --prompt.");
                Console.WriteLine($"Resuming {Path.GetFullPath(resumeDir)}");
                outcome = RunWithCheckpointHint(resumeDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Resume(resumeDir, loading.GivenModel(result), result.GetValue(seeds), progress, ctrlC.Token, warn, loading.Read(result))));
            }
            else
            {
                string imagePath = result.GetValue(image) ?? throw new ImagicException("--image is required (or --resume DIR).");
                string text = result.GetValue(prompt) ?? throw new ImagicException("--prompt is required: describe the edited image.");
                string modelDir = loading.ModelDir(result);
                var options = overrides.ApplyTo(result, ImagicRecipes.Resolve(modelDir, result.GetValue(recipe)), warn);
                string outDir = result.GetValue(output) ?? DefaultRunDir(text);
                var request = new EditRequest(imagePath, text, modelDir, outDir, options, result.GetValue(fit) ?? FitMode.CenterCrop, result.GetValue(seeds),
                    loading.Read(result));
                Console.WriteLine($"Editing {imagePath} towards \"{text}\" with {modelDir}");
                if (options.FinetuneMethod == FinetuneMethod.Lora)
                    Console.WriteLine($"Stage B: LoRA, rank {options.LoraRank} (a parameter-efficient variant of the paper, not the paper's method)");
                else if (options.FinetuneMethod == FinetuneMethod.Decoder)
                    Console.WriteLine("Stage B: the UNet's decoder half only (a variant of the paper, as Forgedit fine-tunes part of the UNet)");
                // The folder is named once it exists, after every input was checked.
                outcome = RunWithCheckpointHint(outDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Start(request, progress, ctrlC.Token, warn, run => Console.WriteLine($"Run folder: {run.Dir}"))));
            }
            Console.WriteLine($"Done. Run folder: {outcome.Run.Dir}");
            Console.WriteLine($"  η sweep grid: {outcome.Sweep.GridPath}");
            foreach (var path in outcome.Sweep.ImagePaths)
                Console.WriteLine($"  {path}");
            if (outcome.Sweep.FlatWarning() is string flat)
                Console.Error.WriteLine($"warning: {flat}");
            var used = outcome.Run.ReadManifest().Options;
            Console.WriteLine(used.SamplingStart != SamplingStart.Inversion
                ? $"Try other η values without retraining: imagic sample {outcome.Run.Dir} --eta 0.6,0.7,0.8 --seeds 3"
                : used.NoiseFromEta is double from
                ? string.Create(CultureInfo.InvariantCulture, $"Try other η values without retraining: imagic sample {outcome.Run.Dir} --eta 0.8,1.0,1.2 --seeds 3 " +
                  $"(η below {from:G3} start from the input's inversion, the same for every seed; η from {from:G3} on from each seed's noise)")
                : $"Try other η values without retraining: imagic sample {outcome.Run.Dir} --eta 0.9,1.1,1.3 " +
                  "(from the input's inversion every seed gives the same edit; add --start noise --seeds 3 for variations)");
            return 0;
        });
        return command;
    }

    static T RunWithCheckpointHint<T>(string runDir, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (OperationCanceledException e)
        {
            Console.Error.WriteLine($"Interrupted. A checkpoint was saved; continue with: imagic edit --resume {runDir}");
            throw new ExplainedCancellation(e);
        }
    }

    static string DefaultRunDir(string prompt)
    {
        var slug = new string(prompt.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());
        slug = string.Join('-', slug.Split('-', StringSplitOptions.RemoveEmptyEntries));
        if (slug.Length > 40) slug = slug[..40].TrimEnd('-');
        return Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{slug}");
    }
}
