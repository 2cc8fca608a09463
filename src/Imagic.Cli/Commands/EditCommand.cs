using System.CommandLine;
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
        var model = new Option<string?>("--model", "-m") { Description = "Model folder (diffusers layout) or single-file .safetensors checkpoint. Default: the bundled shapes model." };
        var output = new Option<string?>("--out", "-o") { Description = "New or empty folder for the edit run. Default: runs/<time>-<prompt>." };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its folder; the result equals an uninterrupted run." };
        var fit = new Option<string>("--fit")
        {
            Description = "How to bring the photo to the model's square resolution: 'crop' (centre crop) or 'pad'.",
            DefaultValueFactory = _ => "crop",
        };
        fit.AcceptOnlyFromAmong("crop", "pad");
        var recipe = new Option<string?>("--recipe")
        {
            Description = "Named Imagic settings, applied before the options below: 'paper' (the paper's Stable Diffusion settings, the " +
                "default for a model without imagic_defaults.json) or 'fast' (this project's, at most 1/5 of the paper's training " +
                "compute). Default: the model's own defaults.",
        };
        recipe.AcceptOnlyFromAmong([.. ImagicRecipes.Names]);
        var seed = new Option<long?>("--seed") { Description = "The one seed behind every random draw of the edit. Default 0." };
        var embeddingSteps = new Option<int?>("--embedding-steps") { Description = "Stage A steps (paper, SD: 1000)." };
        var embeddingLr = new Option<double?>("--embedding-lr") { Description = "Stage A learning rate (paper, SD: 2e-3)." };
        var finetuneSteps = new Option<int?>("--finetune-steps") { Description = "Stage B steps (paper: 1500)." };
        var finetuneLr = new Option<double?>("--finetune-lr") { Description = "Stage B learning rate of full fine-tuning (paper, SD: 5e-7)." };
        var finetune = new Option<string?>("--finetune")
        {
            Description = "Stage B method: 'full' fine-tunes every UNet weight (the paper's method, default); 'lora' trains only " +
                "low-rank adapters on the attention projections and merges them into the UNet afterwards: a variant of the paper " +
                "(parameter-efficient), not the paper's method.",
        };
        finetune.AcceptOnlyFromAmong("full", "lora");
        var loraRank = new Option<int?>("--lora-rank") { Description = "With --finetune lora: the adapters' rank (default 4)." };
        var loraAlpha = new Option<double?>("--lora-alpha") { Description = "With --finetune lora: alpha; the update is scaled by alpha/rank (default: the rank)." };
        var loraLr = new Option<double?>("--lora-lr") { Description = "With --finetune lora: stage B learning rate (default 1e-4)." };
        var gradientCheckpointing = new Option<bool>("--gradient-checkpointing")
        {
            Description = "Stage B: recompute UNet activations in backward instead of storing them: less memory (see docs/memory.md), " +
                "roughly 20-40% more time per step; the same result.",
        };
        var steps = new Option<int?>("--steps") { Description = "Stage C DDIM steps (default 50)." };
        var guidance = new Option<double?>("--guidance") { Description = "Stage C classifier-free guidance scale (default 7.5)." };
        var rescale = new Option<double?>("--guidance-rescale")
        {
            Description = "Stage C guidance rescale φ in [0, 1] (Lin et al. 2023): pulls the guided output's scale back toward the " +
                "conditional one, against over-saturated colours at high guidance (default 0).",
        };
        var eta = new Option<string?>("--eta")
        {
            Description = "Comma-separated η values of the sweep grid, e.g. 0.6,0.7,0.8. η weighs the target text against the reconstruction: " +
                "e = η·e_tgt + (1−η)·e_opt. Higher edits more, lower preserves more; each in [0, 2] (above 1 extrapolates). Default 0.5,...,1.0.",
        };
        var seeds = new Option<int>("--seeds") { Description = "Rows (seeds) of the sweep grid.", DefaultValueFactory = _ => 1 };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Steps between checkpoints (default 100)." };

        var command = new Command("edit",
            "Edit a photo by text with Imagic: (A) optimise a text embedding that reconstructs the photo, (B) fine-tune the model on it, " +
            "(C) interpolate towards the target text and sample an η sweep.\n" +
            "Defaults follow the paper's Stable Diffusion settings unless the model folder ships imagic_defaults.json (the bundled model does).\n" +
            "Examples:\n  imagic edit --image samples/red-circle.png --prompt \"a large blue circle in the center\"\n" +
            "  imagic edit --image dog.jpg --prompt \"a photo of a dog standing\" --model ~/models/stable-diffusion-v1-5 --recipe fast\n" +
            "  imagic edit --resume runs/20261123-212000-a-dog-standing")
        {
            image, prompt, model, output, resume, fit, recipe, seed, embeddingSteps, embeddingLr, finetuneSteps, finetuneLr, finetune, loraRank,
            loraAlpha, loraLr, gradientCheckpointing, steps, guidance, rescale, eta, seeds, checkpointEvery,
        };
        var loading = ModelLoadOptions.AddTo(command);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            Action<string> warn = m => Console.Error.WriteLine($"warning: {m}");
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            (EditRun Run, SweepResult Sweep) outcome;
            if (result.GetValue(resume) is string resumeDir)
            {
                if (result.GetValue(image) is not null || result.GetValue(prompt) is not null)
                    throw new ImagicException("--resume continues a run with its own image and prompt; do not pass --image or --prompt.");
                Console.WriteLine($"Resuming {Path.GetFullPath(resumeDir)}");
                outcome = RunWithCheckpointHint(resumeDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Resume(resumeDir, result.GetValue(model), result.GetValue(seeds), progress, ctrlC.Token, warn, loading.Read(result))));
            }
            else
            {
                string imagePath = result.GetValue(image) ?? throw new ImagicException("--image is required (or --resume DIR).");
                string text = result.GetValue(prompt) ?? throw new ImagicException("--prompt is required: describe the edited image.");
                string modelDir = result.GetValue(model) ?? BundledModel.Resolve();
                var options = ImagicRecipes.Resolve(modelDir, result.GetValue(recipe));
                options = options with
                {
                    Seed = result.GetValue(seed) ?? options.Seed,
                    EmbeddingSteps = result.GetValue(embeddingSteps) ?? options.EmbeddingSteps,
                    EmbeddingLearningRate = result.GetValue(embeddingLr) ?? options.EmbeddingLearningRate,
                    FinetuneSteps = result.GetValue(finetuneSteps) ?? options.FinetuneSteps,
                    FinetuneLearningRate = result.GetValue(finetuneLr) ?? options.FinetuneLearningRate,
                    FinetuneMethod = result.GetValue(finetune) switch
                    {
                        "lora" => FinetuneMethod.Lora,
                        "full" => FinetuneMethod.Full,
                        _ => options.FinetuneMethod,
                    },
                    LoraRank = result.GetValue(loraRank) ?? options.LoraRank,
                    LoraAlpha = result.GetValue(loraAlpha) ?? options.LoraAlpha,
                    LoraLearningRate = result.GetValue(loraLr) ?? options.LoraLearningRate,
                    GradientCheckpointing = result.GetValue(gradientCheckpointing) || options.GradientCheckpointing,
                    SamplingSteps = result.GetValue(steps) ?? options.SamplingSteps,
                    GuidanceScale = result.GetValue(guidance) ?? options.GuidanceScale,
                    GuidanceRescale = result.GetValue(rescale) ?? options.GuidanceRescale,
                    EtaSweep = result.GetValue(eta) is string etaList ? OptionChecks.ParseEtas(etaList, warn) : options.EtaSweep,
                    CheckpointEvery = result.GetValue(checkpointEvery) ?? options.CheckpointEvery,
                };
                string outDir = result.GetValue(output) ?? DefaultRunDir(text);
                var request = new EditRequest(imagePath, text, modelDir, outDir, options,
                    result.GetValue(fit) == "pad" ? FitMode.Pad : FitMode.CenterCrop, result.GetValue(seeds), loading.Read(result));
                Console.WriteLine($"Editing {imagePath} towards \"{text}\" with {modelDir}");
                if (options.FinetuneMethod == FinetuneMethod.Lora)
                    Console.WriteLine($"Stage B: LoRA, rank {options.LoraRank} (a parameter-efficient variant of the paper, not the paper's method)");
                // The folder is named once it exists, after every input was checked.
                outcome = RunWithCheckpointHint(outDir, () => ConsoleProgress.Run("edit", progress =>
                    EditWorkflow.Start(request, progress, ctrlC.Token, warn, run => Console.WriteLine($"Run folder: {run.Dir}"))));
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
