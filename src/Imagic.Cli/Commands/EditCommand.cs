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
        var model = CommonOptions.Model();
        var output = new Option<string?>("--out", "-o") { Description = "New or empty folder for the edit run. Default: runs/<time>-<prompt>." };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its folder; the result equals an uninterrupted run." };
        var fit = CommonOptions.Fit();
        var overrides = new ImagicOverrides();
        var seeds = new Option<int>("--seeds") { Description = "Rows (seeds) of the sweep grid.", DefaultValueFactory = _ => 1 };
        var threads = CommonOptions.Threads();

        var command = new Command("edit",
            "Edit a photo by text with Imagic: (A) optimise a text embedding that reconstructs the photo, (B) fine-tune the model on it, " +
            "(C) interpolate towards the target text and sample an η sweep.\n" +
            "Defaults follow the paper's Stable Diffusion settings unless the model folder ships imagic_defaults.json (the bundled model does).\n" +
            "Examples:\n  imagic edit --image samples/red-circle.png --prompt \"a large blue circle in the center\"\n" +
            "  imagic edit --resume runs/20261123-212000-a-dog-standing")
        {
            image, prompt, model, output, resume, fit,
        };
        foreach (var option in overrides.All.Append(seeds).Append(threads))
            command.Options.Add(option);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            CommonOptions.ApplyThreads(result, threads);
            Action<string> warn = m => Console.Error.WriteLine($"warning: {m}");
            (EditRun Run, SweepResult Sweep) outcome;
            if (result.GetValue(resume) is string resumeDir)
            {
                if (result.GetValue(image) is not null || result.GetValue(prompt) is not null)
                    throw new ImagicException("--resume continues a run with its own image and prompt; do not pass --image or --prompt.");
                Console.WriteLine($"Resuming {Path.GetFullPath(resumeDir)}");
                outcome = RunWithCheckpointHint(resumeDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Resume(resumeDir, result.GetValue(model), result.GetValue(seeds), progress, ctrlC.Token, warn)));
            }
            else
            {
                string imagePath = result.GetValue(image) ?? throw new ImagicException("--image is required (or --resume DIR).");
                string text = result.GetValue(prompt) ?? throw new ImagicException("--prompt is required: describe the edited image.");
                string modelDir = CommonOptions.ModelDir(result, model);
                var options = overrides.ApplyTo(result, ImagicOptions.ForModel(modelDir));
                string outDir = result.GetValue(output) ?? DefaultRunDir(text);
                var request = new EditRequest(imagePath, text, modelDir, outDir, options, result.GetValue(fit), result.GetValue(seeds));
                Console.WriteLine($"Editing {imagePath} towards \"{text}\" with {modelDir}");
                Console.WriteLine($"Run folder: {Path.GetFullPath(outDir)}");
                if (options.FinetuneMethod == FinetuneMethod.Lora)
                    Console.WriteLine($"Stage B: LoRA, rank {options.LoraRank} (a parameter-efficient variant of the paper, not the paper's method)");
                outcome = RunWithCheckpointHint(outDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Start(request, progress, ctrlC.Token, warn)));
            }
            Console.WriteLine($"Done. Run folder: {outcome.Run.Dir}");
            Console.WriteLine($"  η sweep grid: {outcome.Sweep.GridPath}");
            foreach (var path in outcome.Sweep.ImagePaths)
                Console.WriteLine($"  {path}");
            Console.WriteLine($"Try other η values without retraining: imagic sample {outcome.Run.Dir} --eta 0.6,0.7,0.8 --seeds 3");
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
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"Interrupted. A checkpoint was saved; continue with: imagic edit --resume {runDir}");
            throw;
        }
    }

    internal static double[] ParseEtas(string text)
    {
        try
        {
            var values = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
            if (values.Length == 0) throw new FormatException();
            return values;
        }
        catch (FormatException)
        {
            throw new ImagicException($"--eta must be comma-separated numbers such as 0.6,0.7,0.8; got '{text}'.");
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
