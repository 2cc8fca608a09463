using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.IO;

/// <summary>
/// Strict loading of safetensors weights into a TorchSharp module: every checkpoint key must name a
/// parameter or persistent buffer of the same shape, and every parameter must be assigned.
/// </summary>
/// <remarks>
/// Same contract as PyTorch's <c>load_state_dict(strict=True)</c> and nanoGPT's <c>from_pretrained</c>
/// asserts: report, never guess. Tensors are read and copied one at a time, so peak memory is about
/// the model plus its largest tensor.
/// </remarks>
public static class StateDictLoader
{
    const int MaxListedKeys = 10;

    /// <summary>
    /// Copies every tensor of <paramref name="file"/> into the matching parameter or persistent buffer of
    /// <paramref name="module"/>, converting floating-point data to the target's dtype (so fp16/bf16
    /// checkpoints load into float32 modules).
    /// </summary>
    /// <param name="module">The module to fill; its parameter and buffer names are the key contract.</param>
    /// <param name="file">An open safetensors file.</param>
    /// <param name="remap">Maps a checkpoint (key, tensor) to the module's (key, tensor), e.g.
    /// <see cref="LegacyKeys.RemapVae"/>. Default: identity. A returned new tensor is disposed after copying.</param>
    /// <param name="ignoredKeys">Checkpoint keys skipped silently if present (before or after remapping),
    /// e.g. <c>text_model.embeddings.position_ids</c>. Default: none.</param>
    /// <param name="componentName">Used in error messages, e.g. "UNet". Default "model".</param>
    /// <exception cref="ImagicException">A key has no target, a shape or kind of dtype differs, a tensor holds
    /// NaN or infinite values, two keys map to one target, or parameters are left unassigned. The module is
    /// then partially loaded and should be discarded.</exception>
    public static void Load(Module module, SafeTensorsFile file,
        Func<string, Tensor, (string key, Tensor value)>? remap = null,
        IReadOnlySet<string>? ignoredKeys = null, string componentName = "model")
    {
        // Non-persistent buffers are derived state (PyTorch leaves them out of state dicts), so they are no target.
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var parameterNames = new List<string>();
        foreach (var (name, p) in module.named_parameters())
        {
            targets[name] = p;
            parameterNames.Add(name);
        }
        foreach (var (name, b) in module.named_buffers(include_nonpersistent: false))
            targets[name] = b;

        var assignedFrom = new Dictionary<string, string>(StringComparer.Ordinal); // target key → checkpoint key
        var unexpected = new List<string>();
        foreach (var entry in file.Entries.Values.OrderBy(e => e.Begin))
        {
            if (ignoredKeys?.Contains(entry.Name) == true)
                continue;
            using var scope = torch.NewDisposeScope();
            // Keep the stored dtype here: copy_ converts straight into the target, without a float32 copy of a half tensor.
            var stored = file.Read(entry.Name, SafeTensorsFile.ToScalarType(entry.DType));
            var (key, value) = remap is null ? (entry.Name, stored) : remap(entry.Name, stored);
            if (ignoredKeys?.Contains(key) == true)
                continue;
            if (!targets.TryGetValue(key, out var target))
            {
                unexpected.Add(key == entry.Name ? key : $"{key} (renamed from {entry.Name})");
                continue;
            }
            string described = key == entry.Name ? $"'{key}'" : $"'{key}' (stored as '{entry.Name}')";
            if (!target.shape.SequenceEqual(value.shape))
                throw new ImagicException(
                    $"Cannot load the {componentName} from {file.Path}: tensor {described} has shape {Shape(value.shape)} " +
                    $"but the {componentName} expects {Shape(target.shape)}. The config.json beside the weights probably does not match them.");
            if (torch.is_floating_point(value) != torch.is_floating_point(target))
                throw new ImagicException(
                    $"Cannot load the {componentName} from {file.Path}: tensor {described} has dtype {value.dtype} " +
                    $"but the {componentName} expects {target.dtype}.");
            if (assignedFrom.TryGetValue(key, out var earlier))
                throw new ImagicException(
                    $"Cannot load the {componentName} from {file.Path}: both '{earlier}' and '{entry.Name}' map to '{key}'. " +
                    "The checkpoint mixes old and new key names; keep one of them.");
            using (torch.no_grad())
                target.copy_(value);
            // Random bytes in a weights file are mostly valid floats, so only a scan finds them; it costs a
            // fraction of the read itself (docs/performance.md).
            if (!NonFinite.IsAllFinite(target))
                throw new ImagicException(
                    $"Cannot load the {componentName} from {file.Path}: tensor {described} holds {NonFinite.CountNonFinite(target)} NaN or " +
                    $"infinite value(s) of {target.numel()}. The file is corrupt or was saved from a diverged training run; get a good copy.");
            assignedFrom[key] = entry.Name;
        }

        var missing = parameterNames.Where(n => !assignedFrom.ContainsKey(n)).ToList();
        if (unexpected.Count > 0 || missing.Count > 0)
        {
            var problems = new List<string>();
            if (unexpected.Count > 0)
                problems.Add($"{unexpected.Count} checkpoint key(s) match no parameter: {List(unexpected)}");
            if (missing.Count > 0)
                problems.Add($"{missing.Count} parameter(s) are missing from the checkpoint: {List(missing)}");
            throw new ImagicException(
                $"Cannot load the {componentName} from {file.Path}: {string.Join("; ", problems)}. " +
                "Check that the weights belong to this model type and match its config.json.");
        }
    }

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    static string List(List<string> keys) =>
        string.Join(", ", keys.Take(MaxListedKeys).Select(k => $"'{k}'")) +
        (keys.Count > MaxListedKeys ? $" and {keys.Count - MaxListedKeys} more" : "");
}
