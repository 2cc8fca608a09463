using TorchSharp;
using static TorchSharp.torch;

namespace Imagic;

/// <summary>
/// The one place that turns a device name into a TorchSharp device. Everything else takes the device it is given
/// (a pipeline's <c>Device</c>, a tensor's <c>device</c>), so a run happens wholly on the device the user chose.
/// </summary>
/// <remarks>
/// Seeds reproduce per device, not across devices: CPU and CUDA generators draw different numbers from one seed,
/// and their kernels round differently.
/// </remarks>
public static class ComputeDevice
{
    /// <summary>The default device: the CPU, as diffusers loads by default.</summary>
    public static Device Cpu { get; } = torch.CPU;

    public static bool IsCpu(Device device) => device.type == DeviceType.CPU;

    /// <summary>
    /// Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. Throws <see cref="ImagicException"/> for other names, and for
    /// CUDA when the libtorch this program runs on has no CUDA support or no such GPU.
    /// </summary>
    public static Device Parse(string? name)
    {
        string text = (name ?? "cpu").Trim().ToLowerInvariant();
        if (text == "cpu")
            return Cpu;
        if (text != "cuda" && !text.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ImagicException($"Unknown device '{name}': use cpu, cuda or cuda:N.");
        int index = 0;
        if (text.Length > 4 && !(int.TryParse(text.AsSpan(5), out index) && index >= 0))
            throw new ImagicException($"Unknown device '{name}': the GPU index after 'cuda:' must be a number, e.g. cuda:0.");
        if (!torch.cuda.is_available())
            throw new ImagicException($"Device '{name}' is not available: this build's libtorch has no CUDA support (TorchSharp-cpu) or no GPU is visible. " +
                "Build with -p:TorchBackend=cuda-linux on a machine with an NVIDIA GPU (see the README), or use --device cpu.");
        int count = torch.cuda.device_count();
        if (index >= count)
            throw new ImagicException($"Device '{name}' does not exist: {count} CUDA device(s) are visible (cuda:0 … cuda:{count - 1}).");
        return torch.device(DeviceType.CUDA, index);
    }
}
