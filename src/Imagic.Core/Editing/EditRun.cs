using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Models;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// The folder of one edit run. Everything needed to inspect, resume or re-sample the edit is there:
/// <code>
/// edit.json                  hyperparameters, seed, model path and fingerprint, project version, status
/// input.png                  the preprocessed input (the original file is never touched)
/// target.txt                 the target text
/// latents.safetensors        z₀, the input's latents
/// vae_roundtrip.png          z₀ decoded: the most of the input any η can give back (<see cref="VaeCeiling"/>)
/// e_tgt.safetensors          the target text embedding
/// e_opt.safetensors          the optimised embedding (stage A)
/// unet_finetuned.safetensors the fine-tuned UNet weights (stage B)
/// loss_stage_a.csv, loss_stage_b.csv
/// samples/eta_0.70_seed_0.png ... and grid.png
/// checkpoint/state.safetensors  the running stage's resumable state (what it trains, Adam's moments,
///                            its generator and step), while a stage runs
/// </code>
/// Every file is written atomically.
/// </summary>
public sealed class EditRun
{
    public const string ManifestFile = "edit.json";
    /// <summary>z₀ decoded, written when the run starts: the most of the input that any η can give back.</summary>
    public const string VaeRoundTripFile = "vae_roundtrip.png";
    const string CheckpointDir = "checkpoint";
    static readonly string CheckpointState = System.IO.Path.Combine(CheckpointDir, "state.safetensors");

    public string Dir { get; }

    EditRun(string dir) => Dir = dir;

    public string PathOf(string name) => System.IO.Path.Combine(Dir, name);

    /// <summary>
    /// Checks, creating nothing, that <see cref="Create"/> can make a run in <paramref name="dir"/>: it is absent or
    /// empty, and its nearest existing parent is a folder we may write to.
    /// </summary>
    public static void CheckCanCreate(string dir)
    {
        var full = CheckFree(dir);
        var existing = full;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new ImagicException($"Cannot create the output folder {full}: {existing} is a file.");
            existing = System.IO.Path.GetDirectoryName(existing) ?? throw new ImagicException($"Cannot create the output folder {full}.");
        }
        var probe = System.IO.Path.Combine(existing, $".imagic-write-test-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot write to the output folder {full}: {e.Message}", e);
        }
    }

    /// <summary>Creates a run in <paramref name="dir"/>, which must be absent or empty: results are never overwritten.</summary>
    public static EditRun Create(string dir)
    {
        var full = CheckFree(dir);
        try
        {
            Directory.CreateDirectory(full);
            var probe = System.IO.Path.Combine(full, ".write-test");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot write to the output folder {full}: {e.Message}", e);
        }
        return new EditRun(full);
    }

    static string CheckFree(string dir)
    {
        var full = System.IO.Path.GetFullPath(dir);
        if (File.Exists(full))
            throw new ImagicException($"The output folder {full} is a file.");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            if (File.Exists(System.IO.Path.Combine(full, ManifestFile)))
                throw new ImagicException($"{full} already holds an edit run. Use 'imagic edit --resume {dir}' to continue it, or choose another --out.");
            throw new ImagicException($"The output folder {full} is not empty; choose a new or empty folder so nothing is overwritten.");
        }
        return full;
    }

    /// <summary>Opens an existing run, for <c>--resume</c> or <c>imagic sample</c>.</summary>
    public static EditRun Open(string dir)
    {
        var full = System.IO.Path.GetFullPath(dir);
        if (!File.Exists(System.IO.Path.Combine(full, ManifestFile)))
            throw new ImagicException($"{full} is not an edit run folder (it has no {ManifestFile}).");
        return new EditRun(full);
    }

    public static string ProjectVersion =>
        typeof(EditRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>What <c>edit.json</c> records.</summary>
    /// <param name="VaeRoundTripPsnr">PSNR of <see cref="VaeRoundTripFile"/> to the input (<see cref="VaeCeiling"/>); null in
    /// runs made before it was measured.</param>
    public sealed record Manifest(string ModelPath, string ModelFingerprint, string TargetText, string InputFile,
        ImagicOptions Options, string Status, string Stage, int Step, string ProjectVersion, double? VaeRoundTripPsnr = null);

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Reads <c>edit.json</c> and checks that its options, stage and step are in range.</summary>
    public Manifest ReadManifest()
    {
        Manifest m;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(PathOf(ManifestFile)))!;
            var options = ImagicOptions.FromJson(node["options"]!.ToJsonString());
            m = new Manifest(
                node["model_path"]!.GetValue<string>(), node["model_fingerprint"]!.GetValue<string>(),
                node["target_text"]!.GetValue<string>(), node["input_file"]?.GetValue<string>() ?? "",
                options, node["status"]!.GetValue<string>(), node["stage"]!.GetValue<string>(),
                node["step"]!.GetValue<int>(), node["project_version"]?.GetValue<string>() ?? "unknown",
                node["vae_roundtrip_psnr"]?.GetValue<double>());
            m.Options.Validate();
        }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException or FormatException
            or ImagicException)
        {
            throw new ImagicException($"{PathOf(ManifestFile)} is damaged: {e.Message}", e);
        }
        CheckProgress(m);
        return m;
    }

    // A hand-edited step past the stage's end would silently skip the rest of it.
    void CheckProgress(Manifest m)
    {
        string where = $"{PathOf(ManifestFile)} is damaged or was edited";
        if (m.Status is not ("running" or "trained"))
            throw new ImagicException($"{where}: status '{m.Status}' is neither 'running' nor 'trained'.");
        if (!Enum.TryParse<EditStage>(m.Stage, out var stage) || !Enum.IsDefined(stage) || int.TryParse(m.Stage, out _))
            throw new ImagicException($"{where}: stage '{m.Stage}' is not one of {string.Join(", ", Enum.GetNames<EditStage>())}.");
        int last = stage switch
        {
            EditStage.EmbeddingOptimization => m.Options.EmbeddingSteps,
            EditStage.ModelFineTuning => m.Options.FinetuneSteps,
            _ => 0,
        };
        if (m.Step < 0 || m.Step > last)
            throw new ImagicException($"{where}: step {m.Step} is outside {m.Stage}'s range 0 to {last}.");
        if ((m.Status == "trained") != (stage == EditStage.Done))
            throw new ImagicException($"{where}: status '{m.Status}' does not match stage '{m.Stage}'.");
    }

    public void WriteManifest(Manifest m)
    {
        var node = new JsonObject
        {
            ["project"] = "Imagic for .NET",
            ["project_version"] = m.ProjectVersion,
            ["method"] = m.Options.FinetuneMethod switch
            {
                FinetuneMethod.Lora => "Imagic (Kawar et al., CVPR 2023) with a LoRA stage B: a parameter-efficient variant, not the method of the paper",
                FinetuneMethod.Decoder => "Imagic (Kawar et al., CVPR 2023) with a stage B on the UNet's decoder only, as Forgedit: a variant, not the method of the paper",
                _ => "Imagic (Kawar et al., CVPR 2023)",
            },
            ["model_path"] = m.ModelPath,
            ["model_fingerprint"] = m.ModelFingerprint,
            ["input_file"] = m.InputFile,
            ["target_text"] = m.TargetText,
            ["status"] = m.Status,
            ["stage"] = m.Stage,
            ["step"] = m.Step,
            ["options"] = JsonNode.Parse(m.Options.ToJson()),
        };
        if (m.VaeRoundTripPsnr is double psnr) node["vae_roundtrip_psnr"] = Math.Round(psnr, 2);
        AtomicFile.WriteAllText(PathOf(ManifestFile), node.ToJsonString(Json));
    }

    /// <summary>Writes the inputs of a fresh session: input.png, target.txt, z₀, e_tgt.</summary>
    public void SaveInputs(EditSession s)
    {
        ImageIO.SavePng(ImageTensors.ToImage(s.InputImage), PathOf("input.png"));
        AtomicFile.WriteAllText(PathOf("target.txt"), s.TargetText + "\n");
        SaveTensor("input_image.safetensors", "image", s.InputImage);
        SaveTensor("latents.safetensors", "latents", s.Latents);
        SaveTensor("e_tgt.safetensors", "e_tgt", s.TargetEmbedding);
    }

    /// <summary>
    /// Writes a running stage's state (named tensors, see <see cref="TrainingStage.ExportState"/>) to
    /// <c>checkpoint/state.safetensors</c> so that <see cref="LoadSession"/> can resume it; the folder does not
    /// need to know what the stage keeps.
    /// </summary>
    public void SaveCheckpoint(EditSession s, IReadOnlyDictionary<string, Tensor> stageState, Manifest manifest)
    {
        Directory.CreateDirectory(PathOf(CheckpointDir));
        if (s.Stage == EditStage.ModelFineTuning)
            SaveTensor("e_opt.safetensors", "e_opt", s.OptimizedEmbedding); // stage A's result, final from here on
        SafeTensors.Save(PathOf(CheckpointState), stageState);
        WriteLosses(s);
        // The manifest goes last: it only ever points at a complete checkpoint.
        WriteManifest(manifest with { Status = "running", Stage = s.Stage.ToString(), Step = s.Step });
    }

    /// <summary>Writes the trained results and removes the checkpoint.</summary>
    public void SaveResult(EditSession s, UNet2DConditionModel unet, Manifest manifest)
    {
        SaveTensor("e_opt.safetensors", "e_opt", s.OptimizedEmbedding);
        SafeTensors.Save(PathOf("unet_finetuned.safetensors"), UNetWeights(unet));
        WriteLosses(s);
        WriteManifest(manifest with { Status = "trained", Stage = EditStage.Done.ToString(), Step = 0 });
        var checkpoint = PathOf(CheckpointDir);
        if (Directory.Exists(checkpoint)) Directory.Delete(checkpoint, recursive: true);
    }

    /// <summary>
    /// Rebuilds the session from the folder: after training (for sampling; the fine-tuned weights are loaded into
    /// <paramref name="unet"/>) or from the last checkpoint (for resuming; the running stage's state goes to
    /// <see cref="EditSession.StageState"/>, and the stage restores what it trained from there).
    /// </summary>
    public EditSession LoadSession(UNet2DConditionModel unet)
    {
        var m = ReadManifest();
        if (!Enum.TryParse<EditStage>(m.Stage, out var stage) || !Enum.IsDefined(stage))
            throw new ImagicException($"{PathOf(ManifestFile)} names an unknown stage '{m.Stage}'.");
        bool resuming = stage != EditStage.Done && File.Exists(PathOf(CheckpointState));
        if (stage != EditStage.Done && m.Step > 0 && !resuming)
            throw new ImagicException($"{PathOf(ManifestFile)} says {stage} is at step {m.Step}, but {PathOf(CheckpointState)} is missing.");
        var session = new EditSession
        {
            InputImage = LoadTensor("input_image.safetensors", "image"),
            TargetText = m.TargetText,
            Latents = LoadTensor("latents.safetensors", "latents"),
            TargetEmbedding = LoadTensor("e_tgt.safetensors", "e_tgt"),
            OptimizedEmbedding = stage == EditStage.EmbeddingOptimization
                ? LoadTensor("e_tgt.safetensors", "e_tgt")
                : LoadTensor("e_opt.safetensors", "e_opt"),
            Stage = stage,
            Step = m.Step,
            StageState = resuming ? SafeTensors.Load(PathOf(CheckpointState)) : null,
        };
        session.EmbeddingLosses.AddRange(ReadLosses("loss_stage_a.csv"));
        session.FineTuneLosses.AddRange(ReadLosses("loss_stage_b.csv"));
        // Losses logged after the checkpoint belong to steps that will be redone.
        TrimLosses(session);
        if (stage == EditStage.Done)
        {
            using var file = SafeTensorsFile.Open(PathOf("unet_finetuned.safetensors"));
            StateDictLoader.Load(unet, file, null, null, "fine-tuned unet");
        }
        return session;
    }

    static void TrimLosses(EditSession s)
    {
        if (s.Stage == EditStage.Done) return;
        var list = s.Stage == EditStage.EmbeddingOptimization ? s.EmbeddingLosses : s.FineTuneLosses;
        if (list.Count > s.Step) list.RemoveRange(s.Step, list.Count - s.Step);
        if (s.Stage == EditStage.EmbeddingOptimization) s.FineTuneLosses.Clear();
    }

    static IEnumerable<KeyValuePair<string, Tensor>> UNetWeights(UNet2DConditionModel unet) =>
        unet.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter));

    void WriteLosses(EditSession s)
    {
        WriteLossFile("loss_stage_a.csv", s.EmbeddingLosses);
        WriteLossFile("loss_stage_b.csv", s.FineTuneLosses);
    }

    void WriteLossFile(string name, List<double> losses)
    {
        var sb = new StringBuilder("step,loss\n");
        for (int i = 0; i < losses.Count; i++)
            sb.Append(CultureInfo.InvariantCulture, $"{i + 1},{losses[i]:R}\n");
        AtomicFile.WriteAllText(PathOf(name), sb.ToString());
    }

    IEnumerable<double> ReadLosses(string name)
    {
        var path = PathOf(name);
        if (!File.Exists(path)) return Array.Empty<double>();
        return File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0)
            .Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
    }

    void SaveTensor(string name, string key, Tensor t) =>
        SafeTensors.Save(PathOf(name), new[] { new KeyValuePair<string, Tensor>(key, t) });

    Tensor LoadTensor(string name, string key)
    {
        using var file = SafeTensorsFile.Open(PathOf(name));
        return file.Read(key);
    }
}
